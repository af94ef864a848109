// Package pipeline turns raw log lines into classified delivery events:
// parse (per-MTA parser), drop internal hops, classify, and name the sending
// IP (from the line, else from a Proofpoint reply that names it, else from
// configuration). It connects parsers, classify and config; the parsers
// know nothing of it.
package pipeline

import (
	"fmt"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/parsers"
	"github.com/ppwatch/ppwatch/parsers/exim"
	"github.com/ppwatch/ppwatch/parsers/pmta"
	"github.com/ppwatch/ppwatch/parsers/postfix"
	"github.com/ppwatch/ppwatch/pkg/classify"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// Result says what became of a line.
type Result int

const (
	Ignored   Result = iota // not a delivery attempt (or an internal hop)
	Parsed                  // a delivery attempt
	Malformed               // looked like an attempt but could not be read
)

func (r Result) String() string {
	switch r {
	case Parsed:
		return "parsed"
	case Malformed:
		return "malformed"
	}
	return "ignored"
}

// MTAs are the names --mta accepts besides "auto".
var MTAs = []string{event.Postfix, event.Exim, event.PMTA}

// NewClassifier builds the classifier the configuration describes.
func NewClassifier(cfg *config.Config) (*classify.Classifier, error) {
	opts := classify.Options{Hosts: cfg.Proofpoint.Hosts, Domains: cfg.Proofpoint.RecipientDomains}
	for _, r := range cfg.Rules {
		opts.Rules = append(opts.Rules, classify.UserRule{ID: r.ID, Match: r.Match, Class: event.Class(r.Class), Proofpoint: r.Proofpoint})
	}
	c, err := classify.New(opts)
	if err != nil {
		return nil, fmt.Errorf("%s: rules: %w", cfg.File, err)
	}
	return c, nil
}

// Pipeline processes the lines of one stream. Not safe for concurrent use.
type Pipeline struct {
	mta       string
	parser    parsers.Parser
	cls       *classify.Classifier
	relays    relays
	sourceIPs []config.SourceIP
}

// New returns a pipeline for one stream of mta's log. ref gives the
// reference for year-less timestamps (no event is placed after it): a fixed
// instant for a file read once, the moving clock for the daemon.
func New(mta string, cfg *config.Config, cls *classify.Classifier, ref func() time.Time) (*Pipeline, error) {
	p := &Pipeline{mta: mta, cls: cls, relays: newRelays(cfg.InternalRelays)}
	for _, s := range cfg.SourceIPs {
		if s.MTA == "" || s.MTA == mta {
			p.sourceIPs = append(p.sourceIPs, s)
		}
	}
	switch mta {
	case event.Postfix:
		p.parser = postfix.New(postfix.Options{Now: ref, Location: cfg.Location})
	case event.Exim:
		p.parser = exim.New(exim.Options{Now: ref, Location: cfg.Location})
	case event.PMTA:
		p.parser = pmta.New(pmta.Options{Location: cfg.Location}) // its timestamps carry the year
	default:
		return nil, fmt.Errorf("unknown MTA %q (use auto, %s)", mta, strings.Join(MTAs, ", "))
	}
	return p, nil
}

// MTA returns the MTA this pipeline parses.
func (p *Pipeline) MTA() string { return p.mta }

// Parser returns the underlying parser (PowerMTA's needs its header when a
// stream resumes mid-file).
func (p *Pipeline) Parser() parsers.Parser { return p.parser }

// Line processes one line (without its newline). The event shares no memory
// with line.
func (p *Pipeline) Line(line string) (event.Delivery, Result, error) {
	ev, ok, err := p.parser.Parse(line)
	if err != nil {
		return event.Delivery{}, Malformed, err
	}
	if !ok || p.relays.internal(ev.RelayHost, ev.RelayIP) {
		return event.Delivery{}, Ignored, nil
	}
	ownCopy(&ev, line)
	p.cls.Classify(&ev)
	if ev.SourceIP == "" && ev.Proofpoint {
		ev.SourceIP = classify.SourceIP(ev.Response, ev.RelayIP)
	}
	if ev.SourceIP == "" {
		ev.SourceIP = p.configuredSourceIP(ev.Instance)
	}
	return ev, Parsed, nil
}

func (p *Pipeline) configuredSourceIP(instance string) string {
	for _, s := range p.sourceIPs {
		if s.Instance == "" || s.Instance == "*" || s.Instance == instance {
			return s.IP
		}
	}
	return ""
}

// relays matches internal relays by IP, CIDR prefix or host name glob.
type relays struct {
	prefixes []netip.Prefix
	names    []string
}

func newRelays(entries []string) relays {
	var r relays
	for _, e := range entries {
		if pfx, err := netip.ParsePrefix(e); err == nil {
			r.prefixes = append(r.prefixes, pfx.Masked())
		} else if a, err := netip.ParseAddr(e); err == nil {
			r.prefixes = append(r.prefixes, netip.PrefixFrom(a, a.BitLen()))
		} else {
			r.names = append(r.names, strings.ToLower(e))
		}
	}
	return r
}

func (r relays) internal(host, ip string) bool {
	if ip != "" && len(r.prefixes) > 0 {
		if a, err := netip.ParseAddr(ip); err == nil {
			a = a.Unmap()
			for _, p := range r.prefixes {
				if p.Contains(a) {
					return true
				}
			}
		}
	}
	if host != "" {
		h := strings.ToLower(host)
		for _, n := range r.names {
			if ok, _ := path.Match(n, h); ok {
				return true
			}
		}
	}
	return false
}
