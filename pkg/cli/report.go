package cli

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/pkg/app"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/evidence"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
	"github.com/ppwatch/ppwatch/pkg/store"
)

// runReport writes the evidence packet of one sending IP from log files.
func runReport(args []string, env Env) error {
	fs := newFlagSet("report", env)
	var c common
	c.register(fs)
	ip := fs.String("ip", "", "the sending `IP` the case is about (\"unknown\" for attempts without one)")
	domain := fs.String("domain", "", "only attempts to this recipient `domain`")
	since := fs.String("since", "", "only attempts from this `time` on: a duration before now (24h, 7d), a date (2026-11-22) or an RFC 3339 time")
	until := fs.String("until", "", "only attempts before this `time` (a date or an RFC 3339 time)")
	format := fs.String("format", "text", "text, markdown, json or eml (an RFC 5322 draft to open in a mail client)")
	updateSince := fs.String("update-since", "", "write the update of a case sent at this `time`: what is new since then")
	mask := fs.Bool("mask-recipients", false, "show recipients as …@domain (default: the config's report.mask_recipients)")
	from := fs.String("from", "", "the From `address` of the eml draft (default: the config's report.from)")
	check := fs.Bool("check", false, "make the sender checks now (PTR, DNSBLs, SPF, DMARC, DKIM of the sending domains, the recipient domains' MX) and put them in the packet")
	state := fs.String("state", "", "a stopped daemon's state `file` whose counts add to the packet (read only; one a running daemon holds is refused: use --url)")
	var servers, urls repeated
	fs.Var(&urls, "url", "a running daemon's `URL` (http://127.0.0.1:9797; user:password@ for basic auth) whose state file adds to the packet (repeatable: a fleet's daemons are merged)")
	fs.Var(&servers, "dns.server", "with --check: a resolver to ask, `IP:port` (repeatable; default: the config's dns.servers, else /etc/resolv.conf)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := c.setup(); err != nil {
		return err
	}
	if *ip == "" {
		return usagef("report: give --ip, the sending IP the case is about")
	}
	if a, err := netip.ParseAddr(*ip); err == nil {
		*ip = a.Unmap().String()
	} else if *ip != "unknown" {
		return usagef("--ip: %q is not an IP address", *ip)
	}
	if len(files) == 0 && len(urls) == 0 && *state == "" {
		return usagef("report: give the log files to read (\"-\" for standard input), --url of a running daemon or --state of a stopped one")
	}
	switch *format {
	case "text", "markdown", "json", "eml":
	default:
		return usagef("--format: unknown format %q (use text, markdown, json or eml)", *format)
	}
	now := time.Now()
	o := evidence.Options{IP: *ip, Domain: event.DomainOf("x@" + *domain), MaskRecipients: *mask || c.cfg.Report.MaskRecipients}
	for _, t := range []struct {
		flag, val string
		to        *time.Time
	}{{"--since", *since, &o.Since}, {"--until", *until, &o.Until}, {"--update-since", *updateSince, &o.UpdateSince}} {
		if t.val == "" {
			continue
		}
		if *t.to, err = evidence.ParseWhen(t.val, now); err != nil {
			return usagef("%s: %v", t.flag, err)
		}
	}
	b := evidence.NewBuilder(o)
	for _, name := range files {
		if _, err := c.readInput(name, env, func(ev *event.Delivery, res pipeline.Result, _ error) {
			if res == pipeline.Parsed {
				b.Add(ev)
			}
		}); err != nil {
			return err
		}
	}
	var parts []*evidence.Packet
	var sources []string
	if len(files) > 0 {
		sources = append(sources, fmt.Sprintf("%d log files", len(files)))
		parts = append(parts, b.Packet(now, sources[0], nil))
	}
	if *state != "" {
		p, err := app.StateEvidence(*state, c.cfg, now, storeIP(*ip), o.Domain, o.Since, o.Until, o.UpdateSince)
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("--state: %w (a running daemon holds it: give --url of that daemon instead)", err)
		}
		if err != nil {
			return fmt.Errorf("--state: %w", err)
		}
		parts = append(parts, p)
		sources = append(sources, p.Source)
	}
	for _, u := range urls {
		p, err := fetchPacket(u, *ip, o, *since, *until, *updateSince)
		if err != nil {
			return err
		}
		parts = append(parts, p)
		sources = append(sources, p.Source)
	}
	source := strings.Join(sources, " and ")
	p := evidence.Merge(parts, now, source)
	if *check {
		results, err := packetChecks(c.cfg, servers, p)
		if err != nil {
			return err
		}
		p.Hygiene = append(p.Hygiene, results...)
		p = evidence.Merge([]*evidence.Packet{p}, now, source) // the newest of each check
	}
	out := bufio.NewWriter(env.Stdout)
	switch *format {
	case "text":
		err = evidence.WriteText(out, p)
	case "markdown":
		err = evidence.WriteMarkdown(out, p)
	case "json":
		err = evidence.WriteJSON(out, p)
	case "eml":
		err = evidence.WriteEML(out, p, cmp.Or(*from, c.cfg.Report.From))
	}
	if err != nil {
		return err
	}
	return out.Flush()
}

// packetChecks makes the sender checks of a packet's IP and sending
// domains (with the config's DKIM selectors), and the MX of its recipient
// domains: what the packet states with the time it was checked.
func packetChecks(cfg *config.Config, servers []string, p *evidence.Packet) ([]evidence.Check, error) {
	checker, err := newChecker(cfg, servers, "")
	if err != nil {
		return nil, err
	}
	var s dnscheck.Subjects
	if a, err := netip.ParseAddr(p.IP); err == nil {
		s.IPs = append(s.IPs, a)
	}
	for _, d := range p.SendingDomains {
		dom := dnscheck.Domain{Name: d.Name}
		for _, hd := range cfg.Hygiene.Domains {
			if strings.EqualFold(hd.Name, d.Name) {
				dom.DKIMSelectors = hd.DKIMSelectors
			}
		}
		s.Domains = append(s.Domains, dom)
	}
	for _, d := range p.RecipientDomains {
		s.RecipientDomains = append(s.RecipientDomains, d.RecipientDomain)
	}
	return checker.Check(context.Background(), s), nil
}

// fetchPacket asks a running daemon for its packet of ip, with the
// report's window as it was given (the daemon reads it against its clock).
func fetchPacket(base, ip string, o evidence.Options, since, until, updateSince string) (*evidence.Packet, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/") + "/api/v1/ips/" + url.PathEscape(ip) + "/report")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--url: %q is not an http or https URL", base)
	}
	q := url.Values{}
	for k, v := range map[string]string{"domain": o.Domain, "since": since, "until": until, "update_since": updateSince} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	client := http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(u.String())
	if err != nil {
		return nil, fmt.Errorf("--url %s: %w", redactURL(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e)
		return nil, fmt.Errorf("--url %s: %s %s", redactURL(u), resp.Status, e.Error)
	}
	var p evidence.Packet
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return nil, fmt.Errorf("--url %s: not a packet: %w", redactURL(u), err)
	}
	return &p, nil
}

// redactURL is u without its password, for messages.
func redactURL(u *url.URL) string { return u.Redacted() }

// storeIP is the IP as the state file keeps it: "" for "unknown".
func storeIP(ip string) string {
	if ip == "unknown" {
		return ""
	}
	return ip
}
