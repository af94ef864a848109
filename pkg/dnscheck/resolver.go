package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/time/rate"
)

// resolver asks recursive servers with miekg/dns: every server in turn,
// Attempts rounds, TCP when a UDP answer is truncated, at most Concurrency
// exchanges at once, and a cache that keeps answers and negative answers
// (NXDOMAIN, NODATA) for their TTL. A server failure or a timeout is an
// error (*LookupError), never an empty answer: a check turns it into
// UNKNOWN rather than a false FAIL.
type resolver struct {
	servers  []string
	attempts int
	udp, tcp *dns.Client
	sem      chan struct{}
	now      func() time.Time

	// DNSBL queries wait for their turn: public lists refuse or answer
	// "unknown" to hosts that ask too often.
	limiter *rate.Limiter
	// sleep waits for d or ctx; tests replace it with a fake clock's.
	sleep func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	cache map[cacheKey]cacheEntry
}

// The cache is bounded: past maxCacheEntries the expired entries go, and
// if that is not enough, all.
const (
	maxCacheEntries = 10000
	maxTTL          = 24 * time.Hour
)

type cacheKey struct {
	name  string
	qtype uint16
}

type cacheEntry struct {
	ans     answer
	expires time.Time
}

// answer is what a lookup found: the records of the type asked (in the
// order of the reply), NXDOMAIN or not, and how long it may be kept.
type answer struct {
	nxdomain bool
	rrs      []dns.RR
	ttl      uint32 // seconds; for a negative answer the SOA's negative TTL (RFC 2308), 0 when unknown
}

// empty is a negative answer: NXDOMAIN, or no record of the type (NODATA).
func (a answer) empty() bool { return len(a.rrs) == 0 }

// negative says which kind of negative answer a is, for reasons.
func (a answer) negative() string {
	if a.nxdomain {
		return "NXDOMAIN"
	}
	return "NODATA"
}

// LookupError is a lookup that gave no answer: every server timed out,
// failed (SERVFAIL), refused or could not be reached.
type LookupError struct {
	Name   string // the name asked, fully qualified
	Type   string // "A", "TXT", …
	Reason string // "SERVFAIL", "REFUSED", "timed out", …
}

func (e *LookupError) Error() string {
	return fmt.Sprintf("lookup %s %s: %s", e.Name, e.Type, e.Reason)
}

func newResolver(o Options) *resolver {
	r := &resolver{
		servers:  o.Servers,
		attempts: o.Attempts,
		udp:      &dns.Client{Net: "udp", Timeout: o.Timeout, UDPSize: dns.DefaultMsgSize},
		tcp:      &dns.Client{Net: "tcp", Timeout: o.Timeout},
		sem:      make(chan struct{}, o.Concurrency),
		now:      o.Now,
		limiter:  rate.NewLimiter(rate.Limit(o.DNSBLRate), 1),
		sleep:    sleepContext,
		cache:    map[cacheKey]cacheEntry{},
	}
	return r
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lookup answers name/qtype from the cache or the servers. limited
// queries (the DNSBLs') wait for the rate limiter before they are sent; an
// answer from the cache costs nothing.
func (r *resolver) lookup(ctx context.Context, name string, qtype uint16, limited bool) (answer, error) {
	name = dns.CanonicalName(name)
	key := cacheKey{name, qtype}
	if a, ok := r.cached(key); ok {
		return a, nil
	}
	if limited {
		now := r.now()
		if err := r.sleep(ctx, r.limiter.ReserveN(now, 1).DelayFrom(now)); err != nil {
			return answer{}, r.failure(name, qtype, err)
		}
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return answer{}, r.failure(name, qtype, ctx.Err())
	}
	defer func() { <-r.sem }()

	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	q.SetEdns0(dns.DefaultMsgSize, false)
	var last error
	for range r.attempts {
		for _, srv := range r.servers {
			reply, err := r.exchange(ctx, q, srv)
			if err != nil {
				last = err
				if ctx.Err() != nil {
					return answer{}, r.failure(name, qtype, ctx.Err())
				}
				continue
			}
			switch reply.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				a := parseAnswer(reply, qtype)
				r.store(key, a)
				return a, nil
			default:
				// Another server may know better (RFC 1034 5.3.3).
				last = errors.New(rcodeName(reply.Rcode))
			}
		}
	}
	return answer{}, r.failure(name, qtype, last)
}

// exchange asks one server, over TCP again when the UDP answer was cut.
func (r *resolver) exchange(ctx context.Context, q *dns.Msg, srv string) (*dns.Msg, error) {
	reply, err := exchangeWith(ctx, r.udp, q, srv)
	if err == nil && reply.Truncated {
		reply, err = exchangeWith(ctx, r.tcp, q, srv)
	}
	return reply, err
}

// exchangeWith asks srv through c. miekg/dns heeds a context's deadline
// but not its cancellation, so a context that ends closes the connection:
// the daemon's Stop then does not wait out a server that never answers.
func exchangeWith(ctx context.Context, c *dns.Client, q *dns.Msg, srv string) (*dns.Msg, error) {
	conn, err := c.DialContext(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	reply, _, err := c.ExchangeWithConnContext(ctx, q, conn)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return reply, err
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "rcode " + strconv.Itoa(rc)
}

func (r *resolver) failure(name string, qtype uint16, err error) *LookupError {
	reason := "no server to ask"
	var ne net.Error
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		reason = "timed out"
	case errors.Is(err, context.Canceled):
		reason = "canceled"
	default:
		reason = err.Error()
	}
	return &LookupError{Name: name, Type: dns.TypeToString[qtype], Reason: reason}
}

// parseAnswer keeps the records of the type asked; a recursive server's
// answer may start with the CNAMEs that led to them.
func parseAnswer(m *dns.Msg, qtype uint16) answer {
	a := answer{nxdomain: m.Rcode == dns.RcodeNameError}
	first := true
	for _, rr := range m.Answer {
		if rr.Header().Rrtype != qtype && rr.Header().Rrtype != dns.TypeCNAME {
			continue
		}
		if rr.Header().Rrtype == qtype {
			a.rrs = append(a.rrs, rr)
		}
		if first || rr.Header().Ttl < a.ttl {
			a.ttl = rr.Header().Ttl
		}
		first = false
	}
	if len(a.rrs) == 0 {
		// RFC 2308 section 5: a negative answer lives as long as the
		// lesser of the SOA's TTL and its MINIMUM field.
		a.ttl = 0
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				a.ttl = min(soa.Hdr.Ttl, soa.Minttl)
			}
		}
	}
	return a
}

func (r *resolver) cached(key cacheKey) (answer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[key]
	now := r.now()
	if !ok || !now.Before(e.expires) {
		return answer{}, false
	}
	// The TTL left, so that a result read from the cache tells the
	// daemon how long it may be kept.
	a := e.ans
	a.ttl = uint32((e.expires.Sub(now) + time.Second - 1) / time.Second) // a part of a second left is a second
	return a, true
}

func (r *resolver) store(key cacheKey, a answer) {
	if a.ttl == 0 {
		return
	}
	ttl := min(time.Duration(a.ttl)*time.Second, maxTTL)
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if len(r.cache) >= maxCacheEntries {
		for k, e := range r.cache {
			if !now.Before(e.expires) {
				delete(r.cache, k)
			}
		}
		if len(r.cache) >= maxCacheEntries {
			clear(r.cache)
		}
	}
	r.cache[key] = cacheEntry{ans: a, expires: now.Add(ttl)}
}

// txt returns the TXT records at name, each one's strings joined
// (RFC 7208 3.3, RFC 6376 3.6.2.2).
func (r *resolver) txt(ctx context.Context, name string) ([]string, answer, error) {
	a, err := r.lookup(ctx, name, dns.TypeTXT, false)
	if err != nil {
		return nil, a, err
	}
	var out []string
	for _, rr := range a.rrs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, a, nil
}

// addrs returns the A (or AAAA) addresses of name.
func (r *resolver) addrs(ctx context.Context, name string, qtype uint16) ([]netip.Addr, answer, error) {
	a, err := r.lookup(ctx, name, qtype, false)
	if err != nil {
		return nil, a, err
	}
	var out []netip.Addr
	for _, rr := range a.rrs {
		var ip net.IP
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A
		case *dns.AAAA:
			ip = rr.AAAA
		}
		if addr, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, addr.Unmap())
		}
	}
	return out, a, nil
}

// spfResolver is the resolver as blitiri.com.ar/go/spf asks it: the
// net.Resolver shape, with *net.DNSError errors whose IsNotFound and
// IsTemporary it reads to tell "none" from "temperror". A failed lookup is
// always temporary, so a resolver in trouble gives temperror (UNKNOWN),
// never permerror or fail.
type spfResolver struct {
	r *resolver
}

func (s spfResolver) fail(name string, err error) error {
	var le *LookupError
	if errors.As(err, &le) {
		return &net.DNSError{Err: le.Reason, Name: name, IsTimeout: le.Reason == "timed out", IsTemporary: true}
	}
	return &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true}
}

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (s spfResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, a, err := s.r.txt(ctx, name)
	switch {
	case err != nil:
		return nil, s.fail(name, err)
	case a.nxdomain:
		return nil, notFound(name)
	}
	return txts, nil
}

func (s spfResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	a, err := s.r.lookup(ctx, name, dns.TypeMX, false)
	switch {
	case err != nil:
		return nil, s.fail(name, err)
	case a.nxdomain:
		return nil, notFound(name)
	}
	var out []*net.MX
	for _, rr := range a.rrs {
		mx := rr.(*dns.MX)
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	return out, nil
}

func (s spfResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	nx := true
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ips, a, err := s.r.addrs(ctx, host, t)
		if err != nil {
			return nil, s.fail(host, err)
		}
		nx = nx && a.nxdomain
		for _, ip := range ips {
			out = append(out, net.IPAddr{IP: ip.AsSlice()})
		}
	}
	if nx {
		return nil, notFound(host)
	}
	return out, nil
}

func (s spfResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "not an IP address", Name: addr}
	}
	names, a, err := s.r.ptr(ctx, ip)
	switch {
	case err != nil:
		return nil, s.fail(addr, err)
	case a.nxdomain:
		return nil, notFound(addr)
	}
	return names, nil
}

// ptr returns the PTR names of ip, fully qualified, in the reply's order.
func (r *resolver) ptr(ctx context.Context, ip netip.Addr) ([]string, answer, error) {
	arpa, err := dns.ReverseAddr(ip.String())
	if err != nil {
		return nil, answer{}, err
	}
	a, err := r.lookup(ctx, arpa, dns.TypePTR, false)
	if err != nil {
		return nil, a, err
	}
	var names []string
	for _, rr := range a.rrs {
		names = append(names, rr.(*dns.PTR).Ptr)
	}
	return names, a, nil
}
