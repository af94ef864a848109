package dnscheck

import (
	"context"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
)

// No test may ask a real resolver: a Checker made without servers finds
// no resolv.conf.
func TestMain(m *testing.M) {
	resolvConf = "testdata/no-resolv.conf"
	os.Exit(m.Run())
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is the Checker's clock: the cache and the DNSBL pacing run on
// it, and its Sleep moves it on instead of waiting.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(max(d, 0))
	return nil
}

// zones starts the authoritative server of the test zones.
func zones(t *testing.T) *dnstest.Server {
	return dnstest.Start(t, dnstest.Zones(t, dnstest.TestZones))
}

// newChecker is a Checker of servers on a fake clock, with short timeouts
// and the default DNSBL zones (the test server answers for them).
func newChecker(t *testing.T, clk *fakeClock, servers ...string) *Checker {
	t.Helper()
	c, err := New(Options{Servers: servers, Timeout: 100 * time.Millisecond, DNSBL: ZonesNamed([]string{"zen.spamhaus.org", "bl.spamcop.net"}), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	c.res.sleep = clk.Sleep
	return c
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// res is an expected Result checked at t0.
func res(check Check, subject string, st Status, reason, record string, ttl uint32) Result {
	return Result{Check: check, Subject: subject, Status: st, Reason: reason, Record: record, TTL: ttl, Checked: t0}
}

func spfRes(addr, domain string, st Status, reason, record string, ttl uint32) Result {
	r := res(CheckSPF, domain, st, reason, record, ttl)
	r.IP = addr
	return r
}

func blRes(addr, zone string, st Status, reason, record string, ttl uint32) Result {
	r := res(CheckDNSBL, addr, st, reason, record, ttl)
	r.Zone = zone
	return r
}

func dkimRes(domain, sel string, st Status, reason, record string, ttl uint32) Result {
	r := res(CheckDKIM, domain, st, reason, record, ttl)
	r.Selector = sel
	return r
}

func lines(results []Result) []string {
	out := []string{}
	for _, r := range results {
		out = append(out, r.Line())
	}
	return out
}

// checkCase is a table row: a call, the exact results, and the lines
// ppwatch check prints for them.
type checkCase struct {
	name  string
	call  func(context.Context, *Checker) []Result
	want  []Result
	lines []string
}

func runCases(t *testing.T, cases []checkCase) {
	t.Helper()
	srv := zones(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecker(t, newClock(), srv.Addr)
			got := tc.call(context.Background(), c)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("results (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.lines, lines(got)); d != "" {
				t.Errorf("lines (-want +got):\n%s", d)
			}
		})
	}
}
