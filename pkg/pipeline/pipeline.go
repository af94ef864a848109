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
	"strconv"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/parsers"
	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/pkg/classify"
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

// Pipeline processes the lines of one stream. Not safe for concurrent use.
type Pipeline struct {
	mta       string
	parser    mtalog.Parser
	cls       *classify.Classifier
	relays    relays
	sourceIP  func(instance string) string
	transient bool
}

// Options make a Pipeline: only what the line path needs, so that it does
// not pull in the configuration and what that knows (alert templates).
type Options struct {
	Classifier *classify.Classifier
	// InternalRelays are IPs, CIDR prefixes or host name globs of the
	// sender's own relays: attempts to them are not outbound.
	InternalRelays []string
	// SourceIP gives the configured sending IP of an MTA instance, for
	// attempts whose log line names none; nil for none.
	SourceIP func(instance string) string
	// Location is the zone of timestamps that carry none.
	Location *time.Location
	// Reference gives the instant no year-less timestamp is placed after: a
	// fixed one for a file read once, the moving clock for the daemon.
	Reference func() time.Time
	// NoSenders skips the envelope-sender correlation (senders stay ""):
	// the scan report does not show them, and it saves a third of its time.
	NoSenders bool
	// Senders is the envelope-sender correlator to use (see
	// mtalog.Options.Correlator): the daemon's of the input; nil makes the
	// parser its own.
	Senders *mtalog.Senders
	// Transient events are used before the next line is read and not kept,
	// so they may share memory with the line (no copy per event).
	Transient bool
}

// New returns a pipeline for one stream of mta's log.
func New(mta string, o Options) (*Pipeline, error) {
	p := &Pipeline{mta: mta, cls: o.Classifier, relays: newRelays(o.InternalRelays), sourceIP: o.SourceIP, transient: o.Transient}
	if p.sourceIP == nil {
		p.sourceIP = func(string) string { return "" }
	}
	m, ok := parsers.Lookup(mta)
	if !ok {
		return nil, fmt.Errorf("unknown MTA %q (use auto, %s)", mta, parsers.Names(", "))
	}
	opts := mtalog.Options{Now: o.Reference, Location: o.Location}
	if o.NoSenders {
		opts.MaxSenders = -1
	}
	opts.Correlator = o.Senders
	p.parser = m.New(opts)
	return p, nil
}

// MTA returns the MTA this pipeline parses.
func (p *Pipeline) MTA() string { return p.mta }

// SetHeader hands the parser the first line of a file read from the middle,
// for MTAs whose files start with a header (PowerMTA's CSV); others ignore
// it.
func (p *Pipeline) SetHeader(line string) error {
	if h, ok := p.parser.(mtalog.HeaderSetter); ok {
		return h.SetHeader(line)
	}
	return nil
}

// Line processes one line (without its newline) into *ev, which is written
// only when the result is Parsed: callers reuse one event for every line.
// Unless the pipeline is Transient, the event shares no memory with line.
func (p *Pipeline) Line(line string, ev *event.Delivery) (Result, error) {
	ok, err := p.parser.Parse(line, ev)
	if err != nil {
		return Malformed, err
	}
	if !ok || p.relays.internal(ev.RelayHost, ev.RelayIP) {
		return Ignored, nil
	}
	if !p.transient {
		ownCopy(ev, line)
	}
	p.cls.Classify(ev)
	if ev.SourceIP == "" && ev.Proofpoint && ev.Status != event.Delivered {
		ev.SourceIP = classify.SourceIP(ev.Response, ev.RelayIP)
	}
	if ev.SourceIP == "" {
		ev.SourceIP = p.sourceIP(ev.Instance)
	}
	return Parsed, nil
}

// relays matches internal relays by IP, CIDR prefix or host name glob.
type relays struct {
	prefixes []netip.Prefix
	names    []string
	// v4Leads are the first octets ("127.") of the IPv4 prefixes of 8 bits
	// or more: a dotted quad that starts with none of them is in none, and
	// is not parsed (every attempt's relay is asked). v4Any is set when a
	// shorter IPv4 prefix makes every address a candidate.
	v4Leads []string
	v4Any   bool
}

func newRelays(entries []string) relays {
	var r relays
	for _, e := range entries {
		pfx, err := netip.ParsePrefix(e)
		if err != nil {
			a, err := netip.ParseAddr(e)
			if err != nil {
				r.names = append(r.names, strings.ToLower(e))
				continue
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		pfx = pfx.Masked()
		r.prefixes = append(r.prefixes, pfx)
		if a := pfx.Addr(); a.Is4() && pfx.Bits() >= 8 {
			r.v4Leads = append(r.v4Leads, strconv.Itoa(int(a.As4()[0]))+".")
		} else if a.Is4() {
			r.v4Any = true
		}
	}
	return r
}

// mayHold reports whether ip can be in one of the prefixes, without
// parsing a dotted quad (IPv6 and mapped addresses are parsed).
func (r relays) mayHold(ip string) bool {
	if r.v4Any || strings.IndexByte(ip, ':') >= 0 {
		return true
	}
	for _, l := range r.v4Leads {
		if strings.HasPrefix(ip, l) {
			return true
		}
	}
	return false
}

func (r relays) internal(host, ip string) bool {
	if ip != "" && len(r.prefixes) > 0 && r.mayHold(ip) {
		if a, ok := mtalog.ParseIP(ip); ok {
			a = a.Unmap()
			for _, p := range r.prefixes {
				if p.Contains(a) {
					return true
				}
			}
		}
	}
	if host != "" && len(r.names) > 0 {
		h := strings.ToLower(host)
		for _, n := range r.names {
			if ok, _ := path.Match(n, h); ok {
				return true
			}
		}
	}
	return false
}
