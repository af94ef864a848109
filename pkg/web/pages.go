package web

import (
	"bytes"
	"cmp"
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// MaxPageDomains bounds the recipient domains a page lists.
const MaxPageDomains = 20

// MaxPageReplies bounds the replies a page lists, the most frequent first:
// an IP sending to 100,000 domains has as many.
const MaxPageReplies = 500

// IPReport is what the daemon knows of one sending IP: GET /ip/<ip> shows
// it (in IPPage), GET /api/v1/ip/<ip> returns it as JSON (field names are
// a public contract).
type IPReport struct {
	SourceIP      string         `json:"source_ip"`
	GeneratedAt   time.Time      `json:"generated_at"`
	Windows       []IPWindow     `json:"windows"`
	LastBlock     *time.Time     `json:"last_block,omitempty"`
	Alerts        []AlertView    `json:"alerts"`
	DomainsWindow string         `json:"domains_window"`
	TopDomains    []DomainCounts `json:"top_domains"`
	Replies       []ReplyView    `json:"replies"`       // the most frequent MaxPageReplies
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
	// The IP's latest block and deferral episodes (MaxPageEpisodes, the
	// newest first), over all its domains ("" recipient_domain) and per
	// domain, and how many the state file keeps for it.
	Episodes      []EpisodeView `json:"episodes"`
	EpisodesTotal int           `json:"episodes_total"`
	// When the IP was first seen, its attempts per day over the last
	// HistoryDays days, and the jumps in its volume over all days kept.
	History event.IPHistory `json:"history"`
}

// MaxPageEpisodes bounds the episodes a page lists; HistoryDays is the
// days of volume it shows.
const (
	MaxPageEpisodes = 20
	HistoryDays     = 14
)

// EpisodeView is an episode as the IP page and API show it.
type EpisodeView = event.Episode

type IPWindow struct {
	Window        string  `json:"window"`
	Attempts      uint64  `json:"attempts"`
	Blocks        uint64  `json:"blocks"`
	Deferrals     uint64  `json:"deferrals"`
	BlockRatio    float64 `json:"block_ratio"`
	DeferralRatio float64 `json:"deferral_ratio"`
}

type AlertView struct {
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

type DomainCounts struct {
	Domain    string `json:"recipient_domain"`
	Attempts  uint64 `json:"attempts"`
	Blocks    uint64 `json:"blocks"`
	Deferrals uint64 `json:"deferrals"`
}

// ReplyView is a reply as the IP page and API show it.
type ReplyView = event.Reply

// Source is what the pages show; the daemon implements it over its store
// and alert state, so that this package reads no storage.
type Source interface {
	// IPReport assembles the report of ip ("" for attempts without one,
	// shown as label).
	IPReport(ip, label string) (*IPReport, error)
	// Alerts are the alert instances, in name and label order.
	Alerts() []alert.Alert
	Now() time.Time
	// Summary is every known IP's state, the firing alerts, the inputs'
	// health and the failing sender checks (status.go).
	Summary() (*Summary, error)
	// Inputs are the configured inputs' health.
	Inputs() []InputStatus
	// Timeline is ip's Proofpoint attempts per step from since to until.
	Timeline(ip string, since, until time.Time, step time.Duration) (*Timeline, error)
}

func (s *Server) mountPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /ip/{ip}", s.serveIPPage)
	mux.HandleFunc("GET /api/v1/ip/{ip}", s.serveIP)
	mux.HandleFunc("GET /alerts", s.serveAlerts)
	s.mountReport(mux)
}

// serveIP is /api/v1/ip/<ip>, the first API, kept as it is. It reads
// everything first (short store reads) and only then writes
// the response, so no read transaction waits on a slow client.
func (s *Server) serveIP(w http.ResponseWriter, r *http.Request) {
	ip, label, ok := pathIP(r.PathValue("ip"))
	if !ok {
		http.Error(w, "not an IP address: "+label, http.StatusNotFound)
		return
	}
	rep, err := s.opts.Source.IPReport(ip, label)
	if err != nil {
		s.opts.Logger.Error().Err(err).Str("source_ip", label).Msg("ip page failed")
		http.Error(w, "reading the state file failed", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	err = enc.Encode(rep)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(buf.Bytes())
}

// View is an alert instance as the pages and the API show it.
func View(a alert.Alert) AlertView {
	return AlertView{AlertName: a.Labels[alert.LabelAlertName], Severity: a.Labels[alert.LabelSeverity], State: a.State.String(),
		Labels: a.Labels, Annotations: a.Annotations, Value: a.Value, Attempts: a.Counts.Attempts, Blocks: a.Counts.Blocks,
		Deferrals: a.Counts.Deferrals, ActiveAt: a.ActiveAt.UTC(), FiredAt: a.FiredAt.UTC(), Report: a.GeneratorURL}
}

func (s *Server) serveAlerts(w http.ResponseWriter, _ *http.Request) {
	var views []AlertView
	for _, al := range s.opts.Source.Alerts() {
		if al.State != alert.Inactive {
			views = append(views, View(al))
		}
	}
	// Firing first, then by name and labels (the snapshot's order).
	slices.SortStableFunc(views, func(x, y AlertView) int {
		return cmp.Compare(ordState(x.State), ordState(y.State))
	})
	var buf bytes.Buffer
	if err := alertsPage.Execute(&buf, struct {
		Now    time.Time
		Alerts []AlertView
	}{s.opts.Source.Now().UTC(), views}); err != nil {
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
