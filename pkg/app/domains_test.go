package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
	"github.com/ppwatch/ppwatch/pkg/web"
)

const floodConfig = `listen: 127.0.0.1:0
state_file: %[1]s/ppwatch.db
flush_interval: 20ms
inputs: [{path: %[1]s/mail.log, mta: postfix}]
source_ips: [{mta: postfix, ip: 192.0.2.25}]
alerts: []
domains: {top: 5, stored_per_ip: %[2]d}
`

const floodBlock = `2026-11-22T10:%02d:%02d+00:00 mta1 postfix/smtp[1410]: 4C6D21%05X: to=<u@%s>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1.2, delays=0.05/0.01/0.61/0.53, dsn=5.7.1, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))`
const floodSent = `2026-11-22T10:%02d:%02d+00:00 mta1 postfix/smtp[1411]: 4C6D21%05X: to=<u@%s>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=0.4, delays=0.05/0.01/0.2/0.14, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4b1x9rj0ep-1)`

// appendFlood appends attempts from..to-1, each to a domain of its own,
// every other one bounced, one a second from 10:00.
func appendFlood(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := from; i < to; i++ {
		line := floodSent
		if i%2 == 1 {
			line = floodBlock
		}
		fmt.Fprintf(f, line+"\n", i/60%60, i%60, i, fmt.Sprintf("d%04d.example", i))
	}
}

func floodApp(t *testing.T, dir string, perIP int, clk *clock) *App {
	t.Helper()
	cfg, err := config.Parse(fmt.Appendf(nil, floodConfig, dir, perIP), "flood.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t)), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		a.Stop()
		t.Fatal(err)
	}
	return a
}

// sampleText returns the value of one exposition line's series ("" if absent).
func sampleText(text, series string) string {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// sum adds the samples of a metric name.
func sum(t *testing.T, text, name string) uint64 {
	t.Helper()
	var n uint64
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			if err != nil {
				t.Fatal(err)
			}
			n += uint64(v)
		}
	}
	return n
}

type floodFigures struct {
	Attempts, PPAttempts, MetricFolded uint64
	Stored                             int
	Folded                             uint64
	Replies                            int
	OtherReply                         uint64 // count of the one reply kept under "other"
}

func floodFiguresOf(t *testing.T, a *App) floodFigures {
	t.Helper()
	m := get(t, a, "/metrics")
	var rep web.IPReport
	if err := json.Unmarshal([]byte(get(t, a, "/api/v1/ip/192.0.2.25")), &rep); err != nil {
		t.Fatal(err)
	}
	f := floodFigures{Attempts: sum(t, m, "ppwatch_attempts_total"), PPAttempts: sum(t, m, "ppwatch_proofpoint_attempts_total"),
		Stored: rep.DomainsStored, Folded: rep.DomainsFolded, Replies: rep.RepliesTotal}
	if v := sampleText(m, `ppwatch_proofpoint_domains_folded_total{source_ip="192.0.2.25"}`); v != "" {
		n, _ := strconv.ParseUint(v, 10, 64)
		f.MetricFolded = n
	}
	for _, r := range rep.Replies {
		if r.RecipientDomain == "other" {
			f.OtherReply = r.Count
		}
	}
	if rep.DomainsStoredLimit == 0 || rep.RepliesOverflow != 0 {
		t.Errorf("limit %d, overflow %d", rep.DomainsStoredLimit, rep.RepliesOverflow)
	}
	return f
}

// A flood of 1,000 recipient domains through the daemon with
// domains.stored_per_ip 100: exact totals, the first 100 domains kept, the
// rest folded and counted in the metric and the API, the same after a
// restart, and a larger bound on reload lets new domains in again.
func TestDomainFloodThroughDaemon(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	appendFlood(t, log, 0, 1000)
	clk := testkit.NewClock(time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC))
	a := floodApp(t, dir, 100, clk)
	eventually(t, "1,000 attempts", func() bool { return sum(t, get(t, a, "/metrics"), "ppwatch_attempts_total") == 1000 })
	// 50 of the kept domains were blocked, each with its reply; the 450
	// blocks past the bound share one reply under "other".
	want := floodFigures{Attempts: 1000, PPAttempts: 1000, MetricFolded: 900, Stored: 100, Folded: 900, Replies: 51, OtherReply: 450}
	if d := cmp.Diff(want, floodFiguresOf(t, a)); d != "" {
		t.Errorf("after the flood (-want +got):\n%s", d)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}

	// Restart: the same figures, and the bound still full.
	a = floodApp(t, dir, 100, clk)
	if d := cmp.Diff(want, floodFiguresOf(t, a)); d != "" {
		t.Errorf("after a restart (-want +got):\n%s", d)
	}
	appendFlood(t, log, 1000, 1010)
	eventually(t, "1,010 attempts", func() bool { return sum(t, get(t, a, "/metrics"), "ppwatch_attempts_total") == 1010 })
	want = floodFigures{Attempts: 1010, PPAttempts: 1010, MetricFolded: 910, Stored: 100, Folded: 910, Replies: 51, OtherReply: 455}
	if d := cmp.Diff(want, floodFiguresOf(t, a)); d != "" {
		t.Errorf("after 10 more domains (-want +got):\n%s", d)
	}

	// A reload with room for 5 more: the next 5 new domains keep their name.
	cfg, err := config.Parse(fmt.Appendf(nil, floodConfig, dir, 105), "flood.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	appendFlood(t, log, 1010, 1020)
	eventually(t, "1,020 attempts", func() bool { return sum(t, get(t, a, "/metrics"), "ppwatch_attempts_total") == 1020 })
	// 1010..1014 kept (two blocked, with their replies), 1015..1019 folded.
	want = floodFigures{Attempts: 1020, PPAttempts: 1020, MetricFolded: 915, Stored: 105, Folded: 915, Replies: 53, OtherReply: 458}
	if d := cmp.Diff(want, floodFiguresOf(t, a)); d != "" {
		t.Errorf("after the reload (-want +got):\n%s", d)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
}
