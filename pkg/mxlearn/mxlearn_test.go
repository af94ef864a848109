package mxlearn

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/classify"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
	"github.com/ppwatch/ppwatch/pkg/store"
)

func checker(t *testing.T, srv *dnstest.Server) *dnscheck.Checker {
	t.Helper()
	cls, err := classify.New(classify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := dnscheck.New(dnscheck.Options{Servers: []string{srv.Addr}, Timeout: 200 * time.Millisecond, Attempts: 1, Classifier: cls})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path, store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitFor polls the learner until domain has a real verdict.
func waitFor(t *testing.T, l *Learner, domain string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		v := l.known[domain]
		l.mu.Unlock()
		if v.saved {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no verdict for %s", domain)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A domain whose MX is Proofpoint's is Proofpoint from its verdict on,
// never before and never by waiting; a plain one is not; the verdicts
// (with the TTL held to MinTTL) survive a restart without a second
// lookup, and are asked again once expired.
func TestLearnsFromMX(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zones(t, dnstest.TestZones))
	path := filepath.Join(t.TempDir(), "ppwatch.db")
	st := openStore(t, path)
	clk := testkit.NewClock(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
	reg := prometheus.NewPedanticRegistry()
	c := checker(t, srv)
	l, err := New(Options{Lookup: c.CheckMX, Store: st, Now: clk.Now, Logger: zerolog.Nop(), Registerer: reg, SaveEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	// Before the verdict: not Proofpoint, and asked once however often
	// the domain comes by.
	for range 3 {
		if l.Proofpoint("pp.example") || l.Proofpoint("plain.example") {
			t.Fatal("Proofpoint before any lookup answered")
		}
	}
	waitFor(t, l, "pp.example")
	waitFor(t, l, "plain.example")
	if !l.Proofpoint("pp.example") || l.Proofpoint("plain.example") {
		t.Error("verdicts: pp.example must be Proofpoint, plain.example not")
	}
	if n := srv.Queries("pp.example.", "MX", ""); n != 1 {
		t.Errorf("pp.example asked %d times, want 1", n)
	}
	want := `
# HELP ppwatch_mx_domains Recipient domains with a current MX verdict, by whether their MX is Proofpoint's.
# TYPE ppwatch_mx_domains gauge
ppwatch_mx_domains{proofpoint="false"} 1
ppwatch_mx_domains{proofpoint="true"} 1
# HELP ppwatch_mx_lookups_total MX lookups of recipient domains, by result: proofpoint, not_proofpoint, unknown (the lookup failed; asked again later).
# TYPE ppwatch_mx_lookups_total counter
ppwatch_mx_lookups_total{result="not_proofpoint"} 1
ppwatch_mx_lookups_total{result="proofpoint"} 1
ppwatch_mx_lookups_total{result="unknown"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ppwatch_mx_domains", "ppwatch_mx_lookups_total"); err != nil {
		t.Error(err)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	saved, err := st.LoadMX()
	if err != nil {
		t.Fatal(err)
	}
	at := clk.Now()
	wantSaved := []store.MXVerdict{ // the zone's 1800 s TTL, held to MinTTL
		{Domain: "plain.example", Checked: at, Expires: at.Add(time.Hour)},
		{Domain: "pp.example", Proofpoint: true, Checked: at, Expires: at.Add(time.Hour)},
	}
	if d := cmp.Diff(wantSaved, saved); d != "" {
		t.Errorf("saved (-want +got):\n%s", d)
	}
	st.Close()

	// A restart knows them without asking.
	st = openStore(t, path)
	defer st.Close()
	clk.Add(30 * time.Minute)
	l, err = New(Options{Lookup: checker(t, srv).CheckMX, Store: st, Now: clk.Now, Logger: zerolog.Nop(), SaveEvery: time.Hour}) // a new process: a new DNS cache
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	defer l.Stop()
	if !l.Proofpoint("pp.example") || srv.Queries("pp.example.", "MX", "") != 1 {
		t.Error("after a restart: pp.example not known, or asked again")
	}
	// Expired: forgotten, asked again at the next attempt.
	clk.Add(31 * time.Minute)
	l.expire()
	if l.Proofpoint("pp.example") {
		t.Error("an expired verdict still answered")
	}
	waitFor(t, l, "pp.example")
	if !l.Proofpoint("pp.example") || srv.Queries("pp.example.", "MX", "") != 2 {
		t.Errorf("after expiry: asked %d times, want 2", srv.Queries("pp.example.", "MX", ""))
	}
}

// A resolver that fails gives no verdict: the domain is not Proofpoint,
// nothing is saved, and it is asked again after RetryAfter, not at every
// attempt. Past MaxDomains nothing new is asked.
func TestFailedLookupsAndBound(t *testing.T) {
	srv := dnstest.Start(t, dnstest.ServFail())
	st := openStore(t, filepath.Join(t.TempDir(), "ppwatch.db"))
	defer st.Close()
	clk := testkit.NewClock(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
	reg := prometheus.NewPedanticRegistry()
	l, err := New(Options{Lookup: checker(t, srv).CheckMX, Store: st, Now: clk.Now, Logger: zerolog.Nop(), Registerer: reg,
		MaxDomains: 2, SaveEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	defer l.Stop()
	l.Proofpoint("pp.example")
	eventually(t, func() bool { return testutil.ToFloat64(l.metrics.looks[lookedUnknown]) == 1 })
	for range 5 {
		if l.Proofpoint("pp.example") {
			t.Fatal("Proofpoint after a failed lookup")
		}
	}
	if n := srv.Queries("pp.example.", "MX", ""); n != 1 {
		t.Errorf("asked %d times before RetryAfter, want 1", n)
	}
	clk.Add(DefaultRetryAfter)
	l.expire()
	l.Proofpoint("pp.example")
	eventually(t, func() bool { return srv.Queries("pp.example.", "MX", "") == 2 })
	// Two domains known (the bound): a third is not asked.
	l.Proofpoint("plain.example")
	l.Proofpoint("third.example")
	eventually(t, func() bool { return testutil.ToFloat64(l.metrics.skipsBy[skipBound]) == 1 })
	if n := srv.Queries("third.example.", "MX", ""); n != 0 {
		t.Errorf("third.example asked %d times past the bound", n)
	}
	if saved, _ := st.LoadMX(); len(saved) != 0 {
		t.Errorf("failed lookups saved: %v", saved)
	}
}

// Proofpoint never waits for DNS: with a resolver that never answers,
// a thousand calls return at once.
func TestNeverWaits(t *testing.T) {
	srv := dnstest.Start(t, dnstest.NeverAnswers())
	st := openStore(t, filepath.Join(t.TempDir(), "ppwatch.db"))
	defer st.Close()
	l, err := New(Options{Lookup: checker(t, srv).CheckMX, Store: st, Logger: zerolog.Nop(), QueueSize: 10, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	defer l.Stop()
	done := make(chan struct{})
	go func() {
		for i := range 1000 {
			l.Proofpoint("d" + strings.Repeat("x", i%7) + ".example")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Proofpoint waited on DNS")
	}
}

// eventually polls cond until it holds, for up to 10 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
