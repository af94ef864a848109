// Package dnstest runs DNS servers of miekg/dns inside a test, on
// 127.0.0.1 (UDP and TCP on one port), in the shape of miekg/dns's own
// RunLocalServer: an authoritative server of zone-file text, one that
// never answers, one that answers SERVFAIL, and one that truncates every
// UDP answer. The servers count the queries they get, so that tests can
// assert what was asked and how often. Only tests import it.
package dnstest

import (
	_ "embed"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// TestZones are the zones of zones.db: reverse DNS, a DNSBL, SPF, DMARC,
// DKIM and MX records, each case in a comment.
//
//go:embed zones.db
var TestZones string

// Server is a running server. Addr is its "127.0.0.1:port".
type Server struct {
	Addr string

	mu      sync.Mutex
	queries map[string]int // "name TYPE proto" → count
}

// Start serves h on 127.0.0.1 over UDP and TCP, on the same port, until
// the test ends.
func Start(t testing.TB, h dns.Handler) *Server {
	t.Helper()
	s := &Server{queries: map[string]int{}}
	counted := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if len(r.Question) == 1 {
			q := r.Question[0]
			proto := "udp"
			if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
				proto = "tcp"
			}
			s.mu.Lock()
			s.queries[strings.ToLower(q.Name)+" "+dns.TypeToString[q.Qtype]+" "+proto]++
			s.mu.Unlock()
		}
		h.ServeDNS(w, r)
	})
	var (
		pc  net.PacketConn
		l   net.Listener
		err error
	)
	// The TCP port is the UDP one, which another test may hold for TCP:
	// take another pair then.
	for range 10 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: counted}, {Listener: l, Handler: counted}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return s
}

// Queries is how many queries for name (any case, fully qualified) and
// qtype ("A", "TXT", …) came over proto ("udp", "tcp", or "" for both).
func (s *Server) Queries(name, qtype, proto string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(dns.Fqdn(name)) + " " + qtype + " "
	if proto != "" {
		return s.queries[key+proto]
	}
	return s.queries[key+"udp"] + s.queries[key+"tcp"]
}

// Total is how many queries came in all.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.queries {
		n += c
	}
	return n
}

// Zones answers from zone-file text (absolute names, dns.ZoneParser
// syntax) as an authoritative server would: the records of the name and
// type asked; NODATA for a name that exists (or has names below it) but
// has no record of the type; NXDOMAIN otherwise; negative answers carry
// the closest enclosing SOA.
func Zones(t testing.TB, text string) dns.Handler {
	t.Helper()
	type key struct {
		name  string
		qtype uint16
	}
	records := map[key][]dns.RR{}
	names := map[string]bool{}
	var soas []*dns.SOA
	zp := dns.NewZoneParser(strings.NewReader(text), ".", "zones.db")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		name := strings.ToLower(h.Name)
		records[key{name, h.Rrtype}] = append(records[key{name, h.Rrtype}], rr)
		for n := name; ; {
			names[n] = true
			i := strings.IndexByte(n, '.')
			if i < 0 || i == len(n)-1 {
				break
			}
			n = n[i+1:]
		}
		if soa, ok := rr.(*dns.SOA); ok {
			soas = append(soas, soa)
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		q := r.Question[0]
		name := strings.ToLower(q.Name)
		m.Answer = records[key{name, q.Qtype}]
		if len(m.Answer) == 0 {
			if !names[name] {
				m.Rcode = dns.RcodeNameError
			}
			var best *dns.SOA
			for _, soa := range soas {
				if dns.IsSubDomain(soa.Hdr.Name, name) && (best == nil || len(soa.Hdr.Name) > len(best.Hdr.Name)) {
					best = soa
				}
			}
			if best != nil {
				m.Ns = []dns.RR{best}
			}
		}
		_ = w.WriteMsg(m)
	})
}

// NeverAnswers reads queries and answers none: every lookup times out.
func NeverAnswers() dns.Handler {
	return dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {})
}

// ServFail answers every query with SERVFAIL.
func ServFail() dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeServerFailure)
		_ = w.WriteMsg(m)
	})
}

// ServFailFor answers SERVFAIL for the names given (fully qualified, any
// case) and as h does for the others: a lookup that fails midway.
func ServFailFor(h dns.Handler, names ...string) dns.Handler {
	fail := map[string]bool{}
	for _, n := range names {
		fail[strings.ToLower(dns.Fqdn(n))] = true
	}
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if fail[strings.ToLower(r.Question[0].Name)] {
			ServFail().ServeDNS(w, r)
			return
		}
		h.ServeDNS(w, r)
	})
}

// Truncating answers over UDP with an empty, truncated (TC) reply, and
// over TCP as h does: only a client that retries over TCP gets answers.
func Truncating(h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if _, ok := w.RemoteAddr().(*net.UDPAddr); ok {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true
			_ = w.WriteMsg(m)
			return
		}
		h.ServeDNS(w, r)
	})
}
