package store

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/event"
)

var epDay = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

// epAttempt is one Proofpoint attempt of an episode test.
type epAttempt struct {
	at           string // "15:04" or "15:04:05" on epDay
	day          int    // days after epDay
	ip, domain   string
	code         int // 0 delivered
	enhanced     string
	class, reply string
}

func (a epAttempt) time() time.Time {
	layout := "15:04"
	if strings.Count(a.at, ":") == 2 {
		layout = "15:04:05"
	}
	t, err := time.Parse(layout, a.at)
	if err != nil {
		panic(err)
	}
	return epDay.AddDate(0, 0, a.day).Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

const (
	ipA = "192.0.2.1"
	ipB = "192.0.2.2"
)

func blk(at, ip, domain string) epAttempt {
	return epAttempt{at: at, ip: ip, domain: domain, code: 550, enhanced: "5.7.0", class: "reputation",
		reply: "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=" + ip}
}

func dfr(at, ip, domain string) epAttempt {
	return epAttempt{at: at, ip: ip, domain: domain, code: 421, enhanced: "4.7.0", class: "reputation",
		reply: "421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=" + ip}
}

func sent(at, ip, domain string) epAttempt { return epAttempt{at: at, ip: ip, domain: domain} }

// add puts the attempt into b as the daemon's writer does: the domain the
// store's bound gives, the cell, and the reply of a failure.
func (a epAttempt) add(s *Store, b *Batch) {
	t := a.time()
	domain := s.Domain(b, a.ip, a.domain)
	status, class := "delivered", "none"
	if a.code >= 500 {
		status, class = "bounced", a.class
	} else if a.code >= 400 {
		status, class = "deferred", a.class
	}
	b.Add(t, Series{MTA: "postfix", SourceIP: a.ip, RecipientDomain: domain, Status: status, Class: class, Proofpoint: true,
		Outcome: event.ReplyOutcome(a.code, event.Class(class))})
	if a.code != 0 {
		b.AddReply(t, Reply{SourceIP: a.ip, RecipientDomain: domain, Response: a.reply, SMTPCode: a.code, EnhancedCode: a.enhanced, Class: class})
	}
}

// formatEpisode writes every field of an episode on one line, so that a
// table can say exactly what it expects.
func formatEpisode(e Episode) string {
	hm := func(t time.Time) string { return t.Format("15:04:05") }
	domain := e.RecipientDomain
	if domain == "" {
		domain = "*"
	}
	state := "closed"
	if e.Open {
		state = "open"
	}
	var ds []string
	for _, d := range e.Domains {
		ds = append(ds, fmt.Sprintf("%s:%d", d.Domain, d.Failures))
	}
	r := e.Reply
	return fmt.Sprintf("%s %s %s %s-%s %s a=%d b=%d d=%d [%s] %d %s %q %s ip=%s domain=%q x%d %s-%s", e.SourceIP, domain, e.Kind,
		hm(e.Start), hm(e.End), state, e.Attempts, e.Blocks, e.Deferrals, strings.Join(ds, " "),
		r.SMTPCode, r.EnhancedCode, r.Response, r.Class, r.SourceIP, r.RecipientDomain, r.Count, hm(r.FirstSeen), hm(r.LastSeen))
}

func allEpisodes(t *testing.T, s *Store, ips ...string) []string {
	t.Helper()
	var out []string
	for _, ip := range ips {
		eps, err := s.Episodes(ip, time.Time{}, epDay.AddDate(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range eps {
			out = append(out, formatEpisode(e))
		}
	}
	return out
}

const (
	blockA = `550 5.7.0 "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1" reputation ip=192.0.2.1`
	deferA = `421 4.7.0 "421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.1" reputation ip=192.0.2.1`
	blockB = `550 5.7.0 "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.2" reputation ip=192.0.2.2`
)

// The episode state machine, with the quiet period at its default (1h).
// Each case is applied three ways, which must give the same episodes: in
// one batch, one batch per attempt, and one batch per attempt with the
// store closed and opened again between them (a restart).
func TestEpisodes(t *testing.T) {
	cases := []struct {
		name  string
		perIP int // the store's domain bound, 0 for the default
		// Within one commit only: across commits a failure joins only its
		// key's latest episode or the one its key's previous failure
		// joined (doc.go).
		oneCommit bool
		attempts  []epAttempt
		want      []string
	}{{
		name:     "a block opens an episode",
		attempts: []epAttempt{blk("10:00", ipA, "x.example")},
		want: []string{
			`192.0.2.1 * block 10:00:00-10:00:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="" x1 10:00:00-10:00:00`,
			`192.0.2.1 x.example block 10:00:00-10:00:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="x.example" x1 10:00:00-10:00:00`,
		},
	}, {
		name: "blocks within the quiet period extend it; attempts after the last block wait",
		attempts: []epAttempt{blk("10:00", ipA, "x.example"), sent("10:15", ipA, "x.example"), blk("10:30:30", ipA, "x.example"),
			sent("10:30:50", ipA, "x.example"), sent("10:45", ipA, "x.example")},
		want: []string{
			`192.0.2.1 * block 10:00:00-10:30:30 open a=4 b=2 d=0 [x.example:2] ` + blockA + ` domain="" x2 10:00:00-10:30:30`,
			`192.0.2.1 x.example block 10:00:00-10:30:30 open a=4 b=2 d=0 [x.example:2] ` + blockA + ` domain="x.example" x2 10:00:00-10:30:30`,
		},
	}, {
		name: "a quiet period of event time closes it; the next block opens another",
		attempts: []epAttempt{blk("10:00", ipA, "x.example"), sent("10:40", ipA, "x.example"), sent("11:00:01", ipB, "y.example"),
			blk("11:30", ipA, "x.example")},
		want: []string{
			`192.0.2.1 * block 10:00:00-10:00:00 closed a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="" x1 10:00:00-10:00:00`,
			`192.0.2.1 x.example block 10:00:00-10:00:00 closed a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="x.example" x1 10:00:00-10:00:00`,
			`192.0.2.1 * block 11:30:00-11:30:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="" x1 11:30:00-11:30:00`,
			`192.0.2.1 x.example block 11:30:00-11:30:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="x.example" x1 11:30:00-11:30:00`,
		},
	}, {
		name:     "another IP's attempts close it by event time, not the wall clock",
		attempts: []epAttempt{blk("10:00", ipA, "x.example"), sent("10:59", ipB, "y.example")},
		want: []string{
			`192.0.2.1 * block 10:00:00-10:00:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="" x1 10:00:00-10:00:00`,
			`192.0.2.1 x.example block 10:00:00-10:00:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="x.example" x1 10:00:00-10:00:00`,
		},
	}, {
		name:     "a block after deferrals is an episode of its own, overlapping theirs",
		attempts: []epAttempt{dfr("10:00", ipA, "x.example"), blk("10:10", ipA, "x.example"), dfr("10:20", ipA, "x.example"), sent("10:20:30", ipA, "x.example")},
		want: []string{
			`192.0.2.1 * deferral 10:00:00-10:20:00 open a=4 b=1 d=2 [x.example:2] ` + deferA + ` domain="" x2 10:00:00-10:20:00`,
			`192.0.2.1 x.example deferral 10:00:00-10:20:00 open a=4 b=1 d=2 [x.example:2] ` + deferA + ` domain="x.example" x2 10:00:00-10:20:00`,
			`192.0.2.1 * block 10:10:00-10:10:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="" x1 10:10:00-10:10:00`,
			`192.0.2.1 x.example block 10:10:00-10:10:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="x.example" x1 10:10:00-10:10:00`,
		},
	}, {
		name:     "lines out of order make the episode they would in order",
		attempts: []epAttempt{blk("10:30", ipA, "x.example"), blk("10:00", ipA, "x.example"), blk("11:15", ipA, "x.example")},
		want: []string{
			`192.0.2.1 * block 10:00:00-11:15:00 open a=3 b=3 d=0 [x.example:3] ` + blockA + ` domain="" x3 10:00:00-11:15:00`,
			`192.0.2.1 x.example block 10:00:00-11:15:00 open a=3 b=3 d=0 [x.example:3] ` + blockA + ` domain="x.example" x3 10:00:00-11:15:00`,
		},
	}, {
		name:      "a late block between two episodes joins them",
		oneCommit: true,
		attempts: []epAttempt{blk("10:00", ipA, "x.example"), blk("11:50", ipA, "x.example"), sent("12:00", ipB, "y.example"),
			blk("11:00", ipA, "x.example")},
		want: []string{
			`192.0.2.1 * block 10:00:00-11:50:00 open a=3 b=3 d=0 [x.example:3] ` + blockA + ` domain="" x3 10:00:00-11:50:00`,
			`192.0.2.1 x.example block 10:00:00-11:50:00 open a=3 b=3 d=0 [x.example:3] ` + blockA + ` domain="x.example" x3 10:00:00-11:50:00`,
		},
	}, {
		name: "two IPs have episodes of their own; the IP's covers its domains",
		attempts: []epAttempt{blk("10:00", ipA, "x.example"), blk("10:01", ipB, "x.example"), blk("10:02", ipA, "y.example"),
			sent("10:02", ipB, "x.example")},
		want: []string{
			`192.0.2.1 * block 10:00:00-10:02:00 open a=2 b=2 d=0 [x.example:1 y.example:1] ` + blockA + ` domain="" x2 10:00:00-10:02:00`,
			`192.0.2.1 x.example block 10:00:00-10:00:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="x.example" x1 10:00:00-10:00:00`,
			`192.0.2.1 y.example block 10:02:00-10:02:00 open a=1 b=1 d=0 [y.example:1] ` + blockA + ` domain="y.example" x1 10:02:00-10:02:00`,
			`192.0.2.2 * block 10:01:00-10:01:00 open a=1 b=1 d=0 [x.example:1] ` + blockB + ` domain="" x1 10:01:00-10:01:00`,
			`192.0.2.2 x.example block 10:01:00-10:01:00 open a=1 b=1 d=0 [x.example:1] ` + blockB + ` domain="x.example" x1 10:01:00-10:01:00`,
		},
	}, {
		name:     "domains past the store's bound are one episode under other",
		perIP:    1,
		attempts: []epAttempt{blk("10:00", ipA, "x.example"), blk("10:01", ipA, "y.example"), blk("10:02", ipA, "z.example")},
		want: []string{
			`192.0.2.1 * block 10:00:00-10:02:00 open a=3 b=3 d=0 [x.example:1 other:2] ` + blockA + ` domain="" x3 10:00:00-10:02:00`,
			`192.0.2.1 x.example block 10:00:00-10:00:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="x.example" x1 10:00:00-10:00:00`,
			`192.0.2.1 other block 10:01:00-10:02:00 open a=2 b=2 d=0 [other:2] ` + blockA + ` domain="other" x2 10:01:00-10:02:00`,
		},
	}, {
		name: "the most frequent reply is the episode's",
		attempts: []epAttempt{
			{at: "10:00", ip: ipA, domain: "x.example", code: 554, class: "reputation", reply: "554 mx0a.pphosted.com ESMTP Blocked"},
			blk("10:01", ipA, "x.example"), blk("10:02", ipA, "x.example"),
			{at: "10:03", ip: ipA, domain: "x.example", code: 554, class: "reputation", reply: "554 mx0a.pphosted.com ESMTP Blocked"},
			blk("10:04", ipA, "x.example"),
		},
		want: []string{
			`192.0.2.1 * block 10:00:00-10:04:00 open a=5 b=5 d=0 [x.example:5] ` + blockA + ` domain="" x3 10:01:00-10:04:00`,
			`192.0.2.1 x.example block 10:00:00-10:04:00 open a=5 b=5 d=0 [x.example:5] ` + blockA + ` domain="x.example" x3 10:01:00-10:04:00`,
		},
	}}
	for _, c := range cases {
		for _, mode := range []string{"one batch", "batch per attempt", "restart per attempt"} {
			if c.oneCommit && mode != "one batch" {
				continue
			}
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "ppwatch.db")
				s := openTestStore(t, path, Options{Timeout: time.Second})
				limits := func(s *Store) {
					if _, err := s.SetDomainLimits(DomainLimits{PerIP: c.perIP}); err != nil {
						t.Fatal(err)
					}
				}
				limits(s)
				b := NewBatch()
				for i, a := range c.attempts {
					a.add(s, b)
					if mode == "one batch" && i < len(c.attempts)-1 {
						continue
					}
					mustApply(t, s, b)
					b.Reset()
					if mode == "restart per attempt" {
						s = reopen(t, s)
						limits(s)
					}
				}
				if d := cmp.Diff(c.want, allEpisodes(t, s, ipA, ipB)); d != "" {
					t.Errorf("episodes (-want +got):\n%s", d)
				}
			})
		}
	}
}

// Episodes returns the episodes that overlap [since, until), and an
// episode keeps its first 20 domains by name and counts the rest under
// other.
func TestEpisodesRangeAndDomainList(t *testing.T) {
	s := newTestStore(t)
	b := NewBatch()
	for i := range 22 {
		blk(fmt.Sprintf("10:%02d", i), ipA, fmt.Sprintf("d%02d.example", i)).add(s, b)
	}
	blk("13:00", ipA, "d00.example").add(s, b)
	mustApply(t, s, b)
	at := func(hm string) time.Time { return epAttempt{at: hm}.time() }
	for _, c := range []struct {
		since, until string
		want         []string // starts of the IP's episodes over all domains
	}{
		{"00:00", "23:00", []string{"10:00", "13:00"}},
		{"10:21", "13:00", []string{"10:00"}},
		{"10:22", "13:01", []string{"13:00"}},
		{"11:00", "12:00", nil},
	} {
		eps, err := s.Episodes(ipA, at(c.since), at(c.until))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range eps {
			if e.RecipientDomain == "" {
				got = append(got, e.Start.Format("15:04"))
			}
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("episodes in [%s, %s) (-want +got):\n%s", c.since, c.until, d)
		}
	}
	eps, err := s.Episodes(ipA, at("10:00"), at("10:01"))
	if err != nil {
		t.Fatal(err)
	}
	var want []event.EpisodeDomain
	for i := range 20 {
		want = append(want, event.EpisodeDomain{Domain: fmt.Sprintf("d%02d.example", i), Failures: 1})
	}
	want = append(want, event.EpisodeDomain{Domain: Other, Failures: 2})
	if len(eps) == 0 || eps[0].RecipientDomain != "" {
		t.Fatalf("episodes %v", eps)
	}
	if d := cmp.Diff(want, eps[0].Domains); d != "" {
		t.Errorf("domains of the IP's episode (-want +got):\n%s", d)
	}
}

// A log read out of order across commits, as when its year-less times
// were taken for last year's after a while: the failures read after the
// jump make episodes of their own and extend them, restart or not,
// without joining the later episode read before.
func TestEpisodesAfterATimeJump(t *testing.T) {
	for _, restart := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "ppwatch.db")
		s := openTestStore(t, path, Options{Timeout: time.Second})
		jumped := func(at string) epAttempt {
			a := blk(at, ipA, "x.example")
			a.day = -300
			return a
		}
		for _, a := range []epAttempt{blk("10:00", ipA, "x.example"), jumped("10:00"), jumped("10:30"), sent("10:40", ipA, "x.example"), jumped("11:00")} {
			if a.code == 0 {
				a.day = -300
			}
			b := NewBatch()
			a.add(s, b)
			mustApply(t, s, b)
			if restart {
				s = reopen(t, s)
			}
		}
		eps, err := s.Episodes(ipA, time.Time{}, epDay.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range eps {
			if e.RecipientDomain == "" {
				got = append(got, fmt.Sprintf("%s %s-%s a=%d b=%d open=%v", e.Start.Format(time.DateOnly), e.Start.Format("15:04"), e.End.Format("15:04"), e.Attempts, e.Blocks, e.Open))
			}
		}
		want := []string{"2026-01-26 10:00-11:00 a=4 b=3 open=false", "2026-11-22 10:00-10:00 a=1 b=1 open=true"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("restart %v: episodes (-want +got):\n%s", restart, d)
		}
	}
}
