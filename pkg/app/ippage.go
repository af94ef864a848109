package app

import (
	"bytes"
	"cmp"
	"encoding/json"
	"html/template"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/pkg/agg"
	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/store"
)

// maxPageDomains bounds the recipient domains a page lists.
const maxPageDomains = 20

// maxPageReplies bounds the replies a page lists, the most frequent first:
// an IP sending to 100,000 domains has as many.
const maxPageReplies = 500

// ipReport is what the daemon knows of one sending IP: GET /ip/<ip> shows
// it, GET /api/v1/ip/<ip> returns it as JSON.
type ipReport struct {
	SourceIP      string         `json:"source_ip"`
	GeneratedAt   time.Time      `json:"generated_at"`
	Windows       []ipWindow     `json:"windows"`
	LastBlock     *time.Time     `json:"last_block,omitempty"`
	Alerts        []alertView    `json:"alerts"`
	DomainsWindow string         `json:"domains_window"`
	TopDomains    []domainCounts `json:"top_domains"`
	Replies       []replyView    `json:"replies"`       // the most frequent maxPageReplies
	RepliesTotal  int            `json:"replies_total"` // distinct replies kept for the IP
	// Occurrences of replies not kept verbatim: their (IP, domain) pair
	// already had its bound of distinct replies.
	RepliesOverflow uint64 `json:"replies_overflow"`
	// The state file's bound on recipient domains kept by name: how many
	// it keeps for the IP, the bounds, and the attempts it counts under
	// "other" because a bound was reached.
	DomainsStored      int    `json:"domains_stored"`
	DomainsStoredLimit int    `json:"domains_stored_limit"` // domains.stored_per_ip
	DomainsTotalLimit  int    `json:"domains_stored_total_limit"`
	DomainsFolded      uint64 `json:"domains_folded"`
}

type ipWindow struct {
	Window        string  `json:"window"`
	Attempts      uint64  `json:"attempts"`
	Blocks        uint64  `json:"blocks"`
	Deferrals     uint64  `json:"deferrals"`
	BlockRatio    float64 `json:"block_ratio"`
	DeferralRatio float64 `json:"deferral_ratio"`
}

type alertView struct {
	AlertName   string            `json:"alertname"`
	Severity    string            `json:"severity"`
	State       string            `json:"state"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Value       float64           `json:"value"`
	Attempts    uint64            `json:"attempts"`
	Blocks      uint64            `json:"blocks"`
	Deferrals   uint64            `json:"deferrals"`
	ActiveAt    time.Time         `json:"active_at"`
	FiredAt     time.Time         `json:"fired_at,omitzero"`
	Report      string            `json:"report_url,omitempty"`
}

type domainCounts struct {
	Domain    string `json:"recipient_domain"`
	Attempts  uint64 `json:"attempts"`
	Blocks    uint64 `json:"blocks"`
	Deferrals uint64 `json:"deferrals"`
}

type replyView struct {
	RecipientDomain string    `json:"recipient_domain"`
	Response        string    `json:"response"`
	SMTPCode        int       `json:"smtp_code"`
	EnhancedCode    string    `json:"enhanced_code"`
	Class           string    `json:"class"`
	Count           uint64    `json:"count"`
	FirstSeen       time.Time `json:"first_seen"`
	LastSeen        time.Time `json:"last_seen"`
}

func (a *App) mountPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /ip/{ip}", a.serveIP)
	mux.HandleFunc("GET /api/v1/ip/{ip}", a.serveIP)
	mux.HandleFunc("GET /alerts", a.serveAlerts)
}

// serveIP reads everything first (short store reads) and only then writes
// the response, so no read transaction waits on a slow client.
func (a *App) serveIP(w http.ResponseWriter, r *http.Request) {
	label := r.PathValue("ip")
	ip := label
	if label == alert.Unknown {
		ip = ""
	} else if addr, err := netip.ParseAddr(label); err != nil {
		http.Error(w, "not an IP address: "+label, http.StatusNotFound)
		return
	} else {
		ip, label = addr.String(), addr.String()
	}
	rep, err := a.ipReport(ip, label)
	if err != nil {
		a.log.Error().Err(err).Str("source_ip", label).Msg("ip page failed")
		http.Error(w, "reading the state file failed", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if strings.HasPrefix(r.URL.Path, "/api/") {
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
		w.Header().Set("Content-Type", "application/json")
	} else {
		err = ipPage.Execute(&buf, rep)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(buf.Bytes())
}

func (a *App) ipReport(ip, label string) (*ipReport, error) {
	now := a.now()
	windows := a.alerts.pageWindows()
	rep := &ipReport{SourceIP: label, GeneratedAt: now.UTC(), Alerts: []alertView{}, TopDomains: []domainCounts{}, Replies: []replyView{}}
	snap := a.Snapshot(now)
	for _, w := range windows {
		iw := ipWindow{Window: alert.FormatDuration(w)}
		for _, sw := range snap.Windows {
			if sw.SourceIP == ip && sw.Window == w {
				iw.Attempts, iw.Blocks, iw.Deferrals = sw.Attempts, sw.Blocks, sw.Deferrals
				iw.BlockRatio, iw.DeferralRatio = float64(sw.Blocks)/float64(sw.Attempts), float64(sw.Deferrals)/float64(sw.Attempts)
			}
		}
		rep.Windows = append(rep.Windows, iw)
	}
	if t, ok := snap.LastBlock[ip]; ok {
		t = t.UTC()
		rep.LastBlock = &t
	}
	for _, al := range a.alerts.snapshot() {
		if al.State == alert.Inactive || al.Labels[alert.LabelSourceIP] != label {
			continue
		}
		rep.Alerts = append(rep.Alerts, view(al))
	}
	if len(windows) > 0 {
		longest := slices.Max(windows)
		rep.DomainsWindow = alert.FormatDuration(longest)
		// The window as the alerts count it (whole minutes by event time,
		// ending with now's), over this IP's cells only.
		nowMin, span := store.MinuteOf(now), int64(longest/time.Minute)
		counts := map[string]*domainCounts{}
		err := a.store.IPBuckets(time.Unix((nowMin-span+1)*60, 0), time.Unix((nowMin+1)*60, 0), ip, func(m int64, se store.Series, n uint64) {
			if !se.Proofpoint || m <= nowMin-span || m > nowMin {
				return
			}
			c := counts[se.RecipientDomain]
			if c == nil {
				c = &domainCounts{Domain: se.RecipientDomain}
				counts[se.RecipientDomain] = c
			}
			c.Attempts += n
			switch se.Outcome {
			case agg.Block:
				c.Blocks += n
			case agg.Deferral:
				c.Deferrals += n
			}
		})
		if err != nil {
			return nil, err
		}
		for _, c := range counts {
			rep.TopDomains = append(rep.TopDomains, *c)
		}
		slices.SortFunc(rep.TopDomains, func(x, y domainCounts) int {
			return cmp.Or(cmp.Compare(y.Blocks, x.Blocks), cmp.Compare(y.Deferrals, x.Deferrals), cmp.Compare(y.Attempts, x.Attempts), cmp.Compare(x.Domain, y.Domain))
		})
		if len(rep.TopDomains) > maxPageDomains {
			rep.TopDomains = rep.TopDomains[:maxPageDomains]
		}
	}
	// The IP's own replies only: the store's domain bound keeps them to a
	// few per kept domain, where Replies("") would read every IP's.
	var replies []store.Reply
	if err := a.store.EachIPReply(ip, func(r store.Reply) { replies = append(replies, r) }); err != nil {
		return nil, err
	}
	slices.SortFunc(replies, func(x, y store.Reply) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.RecipientDomain, y.RecipientDomain), cmp.Compare(x.Response, y.Response))
	})
	rep.RepliesTotal = len(replies)
	for _, r := range replies[:min(len(replies), maxPageReplies)] {
		rep.Replies = append(rep.Replies, replyView{RecipientDomain: r.RecipientDomain, Response: r.Response, SMTPCode: r.SMTPCode,
			EnhancedCode: r.EnhancedCode, Class: r.Class, Count: r.Count, FirstSeen: r.FirstSeen.UTC(), LastSeen: r.LastSeen.UTC()})
	}
	overflow, err := a.store.ReplyOverflow(ip)
	if err != nil {
		return nil, err
	}
	for _, o := range overflow {
		if o.SourceIP == ip { // ReplyOverflow("") is every IP's
			rep.RepliesOverflow += o.Count
		}
	}
	ds, err := a.store.DomainStats(ip)
	if err != nil {
		return nil, err
	}
	lim := a.store.Limits()
	rep.DomainsStored, rep.DomainsFolded = ds.Stored, ds.Folded
	rep.DomainsStoredLimit, rep.DomainsTotalLimit = lim.PerIP, lim.Total
	return rep, nil
}

func view(a alert.Alert) alertView {
	return alertView{AlertName: a.Labels[alert.LabelAlertName], Severity: a.Labels[alert.LabelSeverity], State: a.State.String(),
		Labels: a.Labels, Annotations: a.Annotations, Value: a.Value, Attempts: a.Counts.Attempts, Blocks: a.Counts.Blocks,
		Deferrals: a.Counts.Deferrals, ActiveAt: a.ActiveAt.UTC(), FiredAt: a.FiredAt.UTC(), Report: a.GeneratorURL}
}

func (a *App) serveAlerts(w http.ResponseWriter, _ *http.Request) {
	var views []alertView
	for _, al := range a.alerts.snapshot() {
		if al.State != alert.Inactive {
			views = append(views, view(al))
		}
	}
	// Firing first, then by name and labels (the snapshot's order).
	slices.SortStableFunc(views, func(x, y alertView) int {
		return cmp.Compare(ordState(x.State), ordState(y.State))
	})
	var buf bytes.Buffer
	if err := alertsPage.Execute(&buf, struct {
		Now    time.Time
		Alerts []alertView
	}{a.now().UTC(), views}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

func ordState(s string) int {
	if s == "firing" {
		return 0
	}
	return 1
}

var pageFuncs = template.FuncMap{
	"percent": alert.Percent,
	"utc":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ipPath":  func(ip string) string { return "/ip/" + ip },
}

const pageStyle = `<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}` +
	`th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}td.n{text-align:right}` +
	`.firing{color:#b00}.pending{color:#a60}pre{white-space:pre-wrap;margin:0}</style>`

var ipPage = template.Must(template.New("ip").Funcs(pageFuncs).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ppwatch: {{.SourceIP}}</title>` + pageStyle + `</head>
<body>
<p><a href="/">ppwatch</a> · <a href="/alerts">alerts</a> · <a href="/api/v1/ip/{{.SourceIP}}">JSON</a></p>
<h1>Sending IP {{.SourceIP}}</h1>
<p>As of {{utc .GeneratedAt}}{{with .LastBlock}}; latest Proofpoint block {{utc .}}{{end}}.</p>
<h2>Proofpoint attempts by event time</h2>
<table><tr><th>window</th><th>attempts</th><th>blocks</th><th>deferrals</th><th>block ratio</th><th>deferral ratio</th></tr>
{{range .Windows}}<tr><td>{{.Window}}</td><td class="n">{{.Attempts}}</td><td class="n">{{.Blocks}}</td><td class="n">{{.Deferrals}}</td><td class="n">{{percent .BlockRatio}}</td><td class="n">{{percent .DeferralRatio}}</td></tr>
{{end}}</table>
<h2>Alerts</h2>
{{if .Alerts}}<table><tr><th>alert</th><th>severity</th><th>state</th><th>since</th><th>summary</th><th>runbook</th></tr>
{{range .Alerts}}<tr><td>{{.AlertName}}{{with .Labels.recipient_domain}} ({{.}}){{end}}</td><td>{{.Severity}}</td><td class="{{.State}}">{{.State}}</td><td>{{utc .ActiveAt}}</td><td>{{.Annotations.summary}}</td><td>{{with .Annotations.runbook_url}}<a href="{{.}}">runbook</a>{{end}}</td></tr>
{{end}}</table>{{else}}<p>None pending or firing.</p>{{end}}
<h2>Recipient domains, last {{.DomainsWindow}}</h2>
{{if .TopDomains}}<table><tr><th>recipient domain</th><th>attempts</th><th>blocks</th><th>deferrals</th></tr>
{{range .TopDomains}}<tr><td>{{.Domain}}</td><td class="n">{{.Attempts}}</td><td class="n">{{.Blocks}}</td><td class="n">{{.Deferrals}}</td></tr>
{{end}}</table>{{else}}<p>No Proofpoint attempts.</p>{{end}}
<p>The state file keeps {{.DomainsStored}} recipient domains of this IP by name (at most {{.DomainsStoredLimit}} per IP, {{.DomainsTotalLimit}} in all).{{if .DomainsFolded}} {{.DomainsFolded}} attempts to domains first seen past that bound are counted under "other".{{end}}</p>
<h2>Proofpoint replies, verbatim</h2>
{{if .Replies}}<table><tr><th>count</th><th>first seen (UTC)</th><th>last seen (UTC)</th><th>recipient domain</th><th>class</th><th>reply</th></tr>
{{range .Replies}}<tr><td class="n">{{.Count}}</td><td>{{utc .FirstSeen}}</td><td>{{utc .LastSeen}}</td><td>{{.RecipientDomain}}</td><td>{{.Class}}</td><td><pre>{{.Response}}</pre></td></tr>
{{end}}</table>{{if gt .RepliesTotal (len .Replies)}}<p>The {{len .Replies}} most frequent of {{.RepliesTotal}} distinct replies.</p>{{end}}{{else}}<p>None kept.</p>{{end}}
{{if .RepliesOverflow}}<p>{{.RepliesOverflow}} more replies were not kept verbatim: their recipient domain already had its bound of distinct replies.</p>{{end}}
</body></html>
`))

var alertsPage = template.Must(template.New("alerts").Funcs(pageFuncs).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ppwatch: alerts</title>` + pageStyle + `</head>
<body>
<p><a href="/">ppwatch</a></p>
<h1>Alerts</h1>
<p>As of {{utc .Now}}.</p>
{{if .Alerts}}<table><tr><th>alert</th><th>severity</th><th>state</th><th>source IP</th><th>recipient domain</th><th>since</th><th>summary</th><th>runbook</th></tr>
{{range .Alerts}}<tr><td>{{.AlertName}}</td><td>{{.Severity}}</td><td class="{{.State}}">{{.State}}</td><td>{{with .Labels.source_ip}}<a href="{{ipPath .}}">{{.}}</a>{{end}}</td><td>{{.Labels.recipient_domain}}</td><td>{{utc .ActiveAt}}</td><td>{{.Annotations.summary}}</td><td>{{with .Annotations.runbook_url}}<a href="{{.}}">runbook</a>{{end}}</td></tr>
{{end}}</table>{{else}}<p>None pending or firing.</p>{{end}}
</body></html>
`))
