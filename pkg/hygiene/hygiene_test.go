package hygiene

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
	"github.com/ppwatch/ppwatch/pkg/store"
)

var t0 = time.Date(2026, 3, 1, 2, 10, 0, 0, time.UTC)

// clock is the runner's time: rounds happen when the test moves it on.
// Every wait the runner begins is signalled on waiting, which tells the
// test that a round (or a look at what is due) has ended.
type clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	waiting chan time.Duration
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newClock() *clock { return &clock{now: t0, waiting: make(chan time.Duration, 64)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	c.mu.Unlock()
	c.waiting <- d
	return ch
}

// Advance moves the clock on and ends the waits that are over.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// idle waits until the runner waits, and returns how long it waits for.
func (c *clock) idle(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.waiting:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("the runner did not come back to wait")
		return 0
	}
}

// zones serves the test zones, changed by edits (old, new pairs) and
// swappable while the server runs.
type zones struct {
	h   atomic.Pointer[dns.Handler]
	srv *dnstest.Server
}

func startZones(t *testing.T) *zones {
	z := &zones{}
	z.set(dnstest.Zones(t, dnstest.TestZones))
	z.srv = dnstest.Start(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { (*z.h.Load()).ServeDNS(w, r) }))
	return z
}

func (z *zones) set(h dns.Handler) { z.h.Store(&h) }

func (z *zones) edit(t *testing.T, oldNew ...string) {
	text := strings.NewReplacer(oldNew...).Replace(dnstest.TestZones)
	if text == dnstest.TestZones {
		t.Fatal("the edit changes nothing")
	}
	z.set(dnstest.Zones(t, text))
}

// spfAll lets example.com's SPF authorise 198.51.100.7 too.
var spfAll = []string{`"v=spf1 ip4:192.0.2.0/29 ip6:2001:db8::/64 -all"`, `"v=spf1 ip4:192.0.2.0/29 ip4:198.51.100.0/24 ip6:2001:db8::/64 -all"`}

// setup is a runner on a real state file and a test zone server.
type setup struct {
	t     *testing.T
	path  string
	st    *store.Store
	clk   *clock
	z     *zones
	reg   *prometheus.Registry
	r     *Runner
	attem map[string]uint64
}

// testConfig: two sending IPs (one listed on zen, one outside example.com's
// SPF), example.com with one DKIM selector, one DNSBL zone.
const testConfig = `
dns:
  servers: [%s]
  timeout: 50ms
hygiene:
  ips: [192.0.2.4, 198.51.100.7]
  domains:
    - {name: example.com, dkim_selectors: [good]}
  dnsbl: [zen.spamhaus.org]
  interval: 15m
  dnsbl_interval: 1h
%s`

func newSetup(t *testing.T, extra string) *setup {
	s := &setup{t: t, path: filepath.Join(t.TempDir(), "ppwatch.db"), clk: newClock(), z: startZones(t)}
	s.open(s.config(extra))
	return s
}

func (s *setup) config(extra string) *config.Config {
	cfg, err := config.Parse([]byte(fmt.Sprintf(testConfig, s.z.srv.Addr, extra)), "test.yml")
	if err != nil {
		s.t.Fatal(err)
	}
	return cfg
}

// open opens the state file and starts a runner on it, and waits for its
// first round.
func (s *setup) open(cfg *config.Config) {
	t := s.t
	st, err := store.Open(s.path, store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.st, s.reg = st, prometheus.NewRegistry()
	s.r, err = New(Options{Logger: zerolog.New(zerolog.NewTestWriter(t)), Store: st, Registerer: s.reg, Now: s.clk.Now, After: s.clk.After,
		SourceIPs: func() map[string]uint64 { return s.attem }, ResolvConf: "testdata/no-resolv.conf"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.r.Start()
	t.Cleanup(s.close)
	s.clk.idle(t)
}

func (s *setup) close() {
	if s.r == nil {
		return
	}
	s.r.Stop()
	if err := s.st.Close(); err != nil {
		s.t.Error(err)
	}
	s.r = nil
}

// restart stops the runner and closes the file, then opens both again.
func (s *setup) restart(cfg *config.Config) {
	s.close()
	s.open(cfg)
}

// advance moves the clock on and waits for the round it brings.
func (s *setup) advance(d time.Duration) {
	s.clk.Advance(d)
	s.clk.idle(s.t)
}

func (s *setup) metrics(want string, names ...string) {
	s.t.Helper()
	if err := testutil.CollectAndCompare(s.r, strings.NewReader(want), names...); err != nil {
		s.t.Error(err)
	}
}

func (s *setup) changes() []string {
	s.t.Helper()
	cs, err := s.st.CheckChanges()
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s %s %s", c.Time.Format("15:04"), c.Key.Check, c.Key.Target, c.Value))
	}
	return out
}

const (
	helpOK      = "# HELP ppwatch_dns_check_ok 1 when the sender check's latest result is pass or warn, 0 when it is fail; absent while it is unknown.\n# TYPE ppwatch_dns_check_ok gauge\n"
	helpUnknown = "# HELP ppwatch_dns_check_unknown 1 when the sender check's latest round could not tell (a lookup failed or timed out, a DNSBL gave no verdict), else 0.\n# TYPE ppwatch_dns_check_unknown gauge\n"
	helpTime    = "# HELP ppwatch_dns_check_timestamp_seconds When the sender check was last made.\n# TYPE ppwatch_dns_check_timestamp_seconds gauge\n"
	helpListed  = "# HELP ppwatch_dnsbl_listed 1 when the DNSBL zone lists the sending IP, 0 when it does not; absent while unknown.\n# TYPE ppwatch_dnsbl_listed gauge\n"
)

// subjects of the metrics in testConfig, in label order.
var testSubjects = [][2]string{
	{"dkim", "good._domainkey.example.com"}, {"dmarc", "example.com"}, {"dnsbl", "192.0.2.4 on zen.spamhaus.org"},
	{"dnsbl", "198.51.100.7 on zen.spamhaus.org"}, {"fcrdns", "192.0.2.4"}, {"fcrdns", "198.51.100.7"},
	{"ptr", "192.0.2.4"}, {"ptr", "198.51.100.7"}, {"spf", "192.0.2.4 for example.com"}, {"spf", "198.51.100.7 for example.com"},
}

// series writes one metric's samples for testSubjects; value gives each
// one's value, "" to leave it out.
func series(name string, value func(check, subject string) string) string {
	var b strings.Builder
	for _, cs := range testSubjects {
		if v := value(cs[0], cs[1]); v != "" {
			fmt.Fprintf(&b, "%s{check=%q,subject=%q} %s\n", name, cs[0], cs[1], v)
		}
	}
	return b.String()
}

func unix(t time.Time) string { return fmt.Sprint(t.Unix()) }

// The first round: every check of every subject, exported with the
// documented values; ptr_domain and ptr_generic are checked but no metric.
func TestFirstRoundMetrics(t *testing.T) {
	s := newSetup(t, "")
	ok := map[string]string{"dkim": "1", "dmarc": "1", "fcrdns": "1", "ptr": "1", "spf": "1"}
	s.metrics(helpOK + series("ppwatch_dns_check_ok", func(check, subject string) string {
		if subject == "198.51.100.7 for example.com" {
			return "0" // softfail: not authorised
		}
		return ok[check]
	}) + helpUnknown + series("ppwatch_dns_check_unknown", func(string, string) string { return "0" }) +
		helpTime + series("ppwatch_dns_check_timestamp_seconds", func(string, string) string { return unix(t0) }) +
		helpListed + `ppwatch_dnsbl_listed{source_ip="192.0.2.4",zone="zen.spamhaus.org"} 1
ppwatch_dnsbl_listed{source_ip="198.51.100.7",zone="zen.spamhaus.org"} 0
`)
	if problems, err := testutil.CollectAndLint(s.r); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	var got []string
	for _, st := range s.r.Latest() {
		got = append(got, st.Result.Line())
	}
	want := []string{
		"PASS ptr 192.0.2.4: PTR ip-192-0-2-4.dynamic.isp.example.net",
		"PASS fcrdns 192.0.2.4: ip-192-0-2-4.dynamic.isp.example.net resolves to 192.0.2.4",
		"WARN ptr_domain 192.0.2.4: ip-192-0-2-4.dynamic.isp.example.net is not within a sending domain (example.com)",
		"WARN ptr_generic 192.0.2.4: ip-192-0-2-4.dynamic.isp.example.net looks generic (the address's digits): receivers take such names for dynamic or unmanaged hosts",
		"FAIL dnsbl 192.0.2.4 on zen.spamhaus.org: listed (127.0.0.2: Spamhaus SBL: a spam source or spam operation)",
		"PASS ptr 198.51.100.7: PTR out.example.com",
		"PASS fcrdns 198.51.100.7: out.example.com resolves to 198.51.100.7",
		"PASS ptr_domain 198.51.100.7: out.example.com is within example.com",
		"PASS ptr_generic 198.51.100.7: out.example.com does not look generic",
		"PASS dnsbl 198.51.100.7 on zen.spamhaus.org: not listed (NXDOMAIN)",
		`PASS spf 192.0.2.4 for example.com: permitted by "v=spf1 include:_spf.example.com ~all" (pass)`,
		`FAIL spf 198.51.100.7 for example.com: not permitted by "v=spf1 include:_spf.example.com ~all" (softfail)`,
		`PASS dmarc example.com: policy reject, DKIM alignment strict, SPF alignment relaxed ("v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.com" at _dmarc.example.com)`,
		"PASS dkim good._domainkey.example.com: rsa key of 2048 bits",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("latest (-want +got):\n%s", d)
	}
	// The first verdict of each check begins its history.
	if n := len(s.changes()); n != 14 {
		t.Errorf("%d changes, want 14 first verdicts", n)
	}
}

// SPF flips from fail to pass between two rounds: the change is recorded
// at the time of the round that saw it, the episodes say from when to
// when, and a restart keeps them and records no change that was none.
// The DNSBLs are not asked again at the restart: their answers are not an
// hour old.
func TestChangeRecordedAndSurvivesRestart(t *testing.T) {
	s := newSetup(t, "")
	const spf = "spf 198.51.100.7 for example.com"
	s.z.edit(t, spfAll...)
	s.advance(15 * time.Minute)
	var got []string
	for _, c := range s.changes() {
		if strings.Contains(c, spf) {
			got = append(got, c)
		}
	}
	want := []string{
		`02:10 ` + spf + ` {"to":"fail","reason":"not permitted by \"v=spf1 include:_spf.example.com ~all\" (softfail)","record":"v=spf1 include:_spf.example.com ~all"}`,
		`02:25 ` + spf + ` {"from":"fail","to":"pass","reason":"permitted by \"v=spf1 include:_spf.example.com ~all\" (pass)","record":"v=spf1 include:_spf.example.com ~all"}`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("changes (-want +got):\n%s", d)
	}
	episodes := func() []string {
		es, err := Episodes(s.st, t0, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			if e.Status != dnscheck.Pass || e.Check == dnscheck.CheckSPF {
				out = append(out, e.String())
			}
		}
		return out
	}
	wantEpisodes := []string{
		"fail dnsbl 192.0.2.4 on zen.spamhaus.org from 2026-03-01T02:10:00Z to now: listed (127.0.0.2: Spamhaus SBL: a spam source or spam operation)",
		"warn ptr_domain 192.0.2.4 from 2026-03-01T02:10:00Z to now: ip-192-0-2-4.dynamic.isp.example.net is not within a sending domain (example.com)",
		"warn ptr_generic 192.0.2.4 from 2026-03-01T02:10:00Z to now: ip-192-0-2-4.dynamic.isp.example.net looks generic (the address's digits): receivers take such names for dynamic or unmanaged hosts",
		`pass spf 192.0.2.4 for example.com from 2026-03-01T02:10:00Z to now: permitted by "v=spf1 include:_spf.example.com ~all" (pass)`,
		`fail spf 198.51.100.7 for example.com from 2026-03-01T02:10:00Z to 2026-03-01T02:25:00Z: not permitted by "v=spf1 include:_spf.example.com ~all" (softfail)`,
		`pass spf 198.51.100.7 for example.com from 2026-03-01T02:25:00Z to now: permitted by "v=spf1 include:_spf.example.com ~all" (pass)`,
	}
	if d := cmp.Diff(wantEpisodes, episodes()); d != "" {
		t.Errorf("episodes (-want +got):\n%s", d)
	}
	before := s.changes()
	listed := s.z.srv.Queries("4.2.0.192.zen.spamhaus.org", "A", "")
	s.clk.Advance(5 * time.Minute)
	s.restart(s.config(""))
	if d := cmp.Diff(before, s.changes()); d != "" {
		t.Errorf("the restart recorded changes (-before +after):\n%s", d)
	}
	if d := cmp.Diff(wantEpisodes, episodes()); d != "" {
		t.Errorf("episodes after the restart (-want +got):\n%s", d)
	}
	if n := s.z.srv.Queries("4.2.0.192.zen.spamhaus.org", "A", ""); n != listed {
		t.Errorf("the restart asked zen %d times more", n-listed)
	}
	// The restored DNSBL answers are metrics at once, with their time.
	s.metrics(helpListed+`ppwatch_dnsbl_listed{source_ip="192.0.2.4",zone="zen.spamhaus.org"} 1
ppwatch_dnsbl_listed{source_ip="198.51.100.7",zone="zen.spamhaus.org"} 0
`+helpTime+series("ppwatch_dns_check_timestamp_seconds", func(check, _ string) string {
		if check == "dnsbl" {
			return unix(t0)
		}
		return unix(t0.Add(20 * time.Minute))
	}), "ppwatch_dnsbl_listed", "ppwatch_dns_check_timestamp_seconds")
}

// A resolver that fails makes every result unknown: ok and listed are
// gone, unknown is 1, and no change is recorded, neither then nor when it
// works again with the same answers.
func TestFailingResolverRecordsNoChange(t *testing.T) {
	s := newSetup(t, "")
	before := s.changes()
	s.z.set(dnstest.ServFail())
	s.advance(time.Hour) // the DNSBLs too
	s.metrics(helpUnknown+series("ppwatch_dns_check_unknown", func(string, string) string { return "1" }), "ppwatch_dns_check_unknown")
	if err := testutil.CollectAndCompare(s.r, strings.NewReader(""), "ppwatch_dns_check_ok", "ppwatch_dnsbl_listed"); err != nil {
		t.Error(err)
	}
	// A PTR lookup that fails leaves ptr_domain and ptr_generic
	// unjudged: those keep their result of the round before.
	for _, st := range s.r.Latest() {
		failed := st.Result.Checked.Equal(t0.Add(time.Hour))
		if failed != (st.Result.Status == dnscheck.Unknown) || !st.Since.Equal(t0) || st.Verdict == dnscheck.Unknown {
			t.Errorf("%s: checked %s, verdict %s since %s", st.Result.Line(), st.Result.Checked, st.Verdict, st.Since)
		}
	}
	s.z.set(dnstest.Zones(t, dnstest.TestZones))
	s.advance(time.Hour)
	if d := cmp.Diff(before, s.changes()); d != "" {
		t.Errorf("changes (-before +after):\n%s", d)
	}
	if n := testutil.CollectAndCount(s.r, "ppwatch_dns_check_ok"); n != 8 {
		t.Errorf("%d ok series after the resolver works again, want 8", n)
	}
}

// The DNSBLs are asked every dnsbl_interval, the rest every interval,
// each from the first round on.
func TestDNSBLIntervalSeparate(t *testing.T) {
	s := newSetup(t, "")
	checked := func(check, subject string) time.Time {
		for _, st := range s.r.Latest() {
			if string(st.Result.Check) == check && st.Result.Target() == subject {
				return st.Result.Checked
			}
		}
		t.Fatalf("no %s %s", check, subject)
		return time.Time{}
	}
	for i := 1; i <= 4; i++ {
		s.advance(15 * time.Minute)
		now, bl := t0.Add(time.Duration(i)*15*time.Minute), t0
		if i == 4 {
			bl = now
		}
		if got := checked("ptr", "192.0.2.4"); !got.Equal(now) {
			t.Errorf("round %d: ptr checked at %s, want %s", i, got, now)
		}
		if got := checked("dnsbl", "192.0.2.4 on zen.spamhaus.org"); !got.Equal(bl) {
			t.Errorf("round %d: dnsbl checked at %s, want %s", i, got, bl)
		}
	}
	if n := s.z.srv.Queries("4.2.0.192.zen.spamhaus.org", "A", ""); n != 2 {
		t.Errorf("zen asked %d times in an hour, want 2 (at start, an hour later)", n)
	}
}

// The logs' source IPs join the configured ones: the top_ips with the most
// attempts among those receivers can see. A reload that lowers top_ips
// takes the one left out off the metrics.
func TestTopSourceIPs(t *testing.T) {
	s := &setup{t: t, path: filepath.Join(t.TempDir(), "ppwatch.db"), clk: newClock(), z: startZones(t)}
	s.attem = map[string]uint64{"unknown": 1000, "10.0.0.1": 900, "192.0.2.9": 800, "100.64.0.1": 700, "::ffff:1.2.3.4": 100,
		"5.6.7.8": 100, "9.9.9.9": 10, "192.0.2.4": 5000}
	s.open(s.config("  top_ips: 2\n"))
	ptr := func() string {
		var b strings.Builder
		for _, st := range s.r.Latest() {
			if st.Result.Check == dnscheck.CheckPTR {
				b.WriteString(st.Result.Line() + "\n")
			}
		}
		return b.String()
	}
	want := "FAIL ptr 1.2.3.4: no PTR record (NXDOMAIN)\nFAIL ptr 5.6.7.8: no PTR record (NXDOMAIN)\n" +
		"PASS ptr 192.0.2.4: PTR ip-192-0-2-4.dynamic.isp.example.net\nPASS ptr 198.51.100.7: PTR out.example.com\n"
	if d := cmp.Diff(want, ptr()); d != "" {
		t.Errorf("ptr results (-want +got):\n%s", d)
	}
	s.r.Apply(s.r.Prepare(s.config("  top_ips: 1\n")))
	s.clk.idle(t)
	if d := cmp.Diff(strings.Replace(want, "FAIL ptr 5.6.7.8: no PTR record (NXDOMAIN)\n", "", 1), ptr()); d != "" {
		t.Errorf("after top_ips 1 (-want +got):\n%s", d)
	}
	if err := testutil.CollectAndCompare(s.r, strings.NewReader(helpListed+`ppwatch_dnsbl_listed{source_ip="1.2.3.4",zone="zen.spamhaus.org"} 0
ppwatch_dnsbl_listed{source_ip="192.0.2.4",zone="zen.spamhaus.org"} 1
ppwatch_dnsbl_listed{source_ip="198.51.100.7",zone="zen.spamhaus.org"} 0
`), "ppwatch_dnsbl_listed"); err != nil {
		t.Error(err)
	}
}

func TestReceiverSees(t *testing.T) {
	for addr, want := range map[string]bool{
		"1.2.3.4": true, "2a00:1450::1": true, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "127.0.0.1": false,
		"169.254.1.1": false, "100.64.0.1": false, "192.0.2.25": false, "198.51.100.7": false, "203.0.113.5": false,
		"198.18.0.1": false, "240.0.0.1": false, "255.255.255.255": false, "0.1.2.3": false, "::1": false, "fe80::1": false,
		"fd00::1": false, "2001:db8::25": false, "ff02::1": false,
	} {
		if got := receiverSees(netip.MustParseAddr(addr)); got != want {
			t.Errorf("receiverSees(%s) = %v", addr, got)
		}
	}
}

// Stop ends a round that waits on a resolver that never answers, at once,
// and saves none of what it gave up on.
func TestStopDuringRound(t *testing.T) {
	srv := dnstest.Start(t, dnstest.NeverAnswers())
	cfg, err := config.Parse([]byte(fmt.Sprintf("dns: {servers: [%s], timeout: 30s}\nhygiene: {ips: [192.0.2.4]}\n", srv.Addr)), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "ppwatch.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := newClock()
	r, err := New(Options{Logger: zerolog.New(zerolog.NewTestWriter(t)), Store: st, Now: clk.Now, After: clk.After}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	for deadline := time.Now().Add(10 * time.Second); srv.Total() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no query")
		}
	}
	start := time.Now()
	r.Stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %s", d)
	}
	if got, err := st.Checks(); err != nil || len(got) != 0 {
		t.Errorf("saved %v, %v", got, err)
	}
	r.Stop()
}

// Without a resolver the checks are off, and the daemon runs on.
func TestNoResolver(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "ppwatch.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := config.Parse([]byte("hygiene: {ips: [192.0.2.4]}\n"), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	reg := prometheus.NewRegistry()
	r, err := New(Options{Logger: zerolog.New(zerolog.NewTestWriter(t)), Store: st, Registerer: reg, Now: clk.Now, After: clk.After,
		ResolvConf: "testdata/no-resolv.conf"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	if d := clk.idle(t); d != 15*time.Minute {
		t.Errorf("waits %s", d)
	}
	r.Stop()
	if n := testutil.CollectAndCount(r); n != 0 {
		t.Errorf("%d series", n)
	}
}
