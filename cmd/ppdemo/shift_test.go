package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
)

// sampleReference stands for the samples' modification time, which scan
// places their year-less timestamps by: after them, in the same year.
var sampleReference = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// parsed is what the pipeline made of one line.
type parsed struct {
	Result pipeline.Result
	Event  event.Delivery
	Err    string
}

// parseLog runs log through the pipeline as the demo's config sets it up,
// with year-less timestamps placed by ref.
func parseLog(t *testing.T, cfg *config.Config, mta string, log []byte, ref time.Time) []parsed {
	t.Helper()
	cls, err := cfg.NewClassifier()
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.PipelineOptions(mta, cls)
	o.Reference = func() time.Time { return ref }
	p, err := pipeline.New(mta, o)
	if err != nil {
		t.Fatal(err)
	}
	var out []parsed
	for _, line := range strings.SplitAfter(string(log), "\n") {
		if line == "" {
			continue
		}
		var got parsed
		got.Result, err = p.Line(strings.TrimSuffix(line, "\n"), &got.Event)
		if err != nil {
			got.Err = err.Error()
		}
		out = append(out, got)
	}
	return out
}

func demoConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("../../testdata/demo.yml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readSample(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The copies tell the scan report's story: every line parses as the
// original does, with the same fields and its time moved by one offset;
// the newest timestamp is now; only the timestamps changed. The demo runs
// on any date, so the copies also end across New Year and around a leap
// day, where the year-less Postfix timestamps must fall in the right year.
func TestShiftSamples(t *testing.T) {
	cfg := demoConfig(t)
	for _, now := range []time.Time{
		time.Date(2026, 12, 2, 2, 28, 35, 0, time.UTC),
		time.Date(2027, 1, 1, 0, 5, 0, 0, time.UTC),  // the Postfix copy starts on Dec 31
		time.Date(2028, 2, 29, 0, 5, 0, 0, time.UTC), // ends on a leap day
		time.Date(2028, 3, 1, 0, 5, 0, 0, time.UTC),  // starts on one
	} {
		for _, s := range samples {
			t.Run(now.Format("2006-01-02")+"/"+s.mta, func(t *testing.T) {
				orig := readSample(t, s.path)
				shifted, d, err := shift(orig, s.mta, sampleReference, now, cfg.Location)
				if err != nil {
					t.Fatal(err)
				}
				// The daemon places year-less timestamps by its clock.
				want, got := parseLog(t, cfg, s.mta, orig, sampleReference), parseLog(t, cfg, s.mta, shifted, now)
				if len(got) != len(want) {
					t.Fatalf("%d lines, want %d", len(got), len(want))
				}
				events := 0
				for i := range want {
					if got[i].Result == pipeline.Parsed {
						events++
						if moved := want[i].Event.Time.Add(d); !got[i].Event.Time.Equal(moved) {
							t.Errorf("line %d: time %s, want %s", i+1, got[i].Event.Time, moved)
						}
						if age := now.Sub(got[i].Event.Time); age < 0 || age >= 24*time.Hour {
							t.Errorf("line %d: %s is outside the daemon's 24h window ending %s", i+1, got[i].Event.Time, now)
						}
						got[i].Event.Time = want[i].Event.Time
					}
					if diff := cmp.Diff(want[i], got[i]); diff != "" {
						t.Errorf("line %d (-original +shifted):\n%s", i+1, diff)
					}
				}
				if events == 0 {
					t.Fatal("no delivery attempts")
				}

				again, d0, err := shift(shifted, s.mta, now, now, cfg.Location)
				if err != nil {
					t.Fatal(err)
				}
				if d0 != 0 || !bytes.Equal(again, shifted) {
					t.Errorf("shifting the copy to now again moved it by %s: its newest timestamp is not now", d0)
				}
				back, _, err := shift(shifted, s.mta, now, now.Add(-d), cfg.Location)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(orig), string(back)); diff != "" {
					t.Errorf("shifted back, the copy is not the sample (-sample +back):\n%s", diff)
				}
			})
		}
	}
}

// The scan report's worst IP, 192.0.2.10 (Exim): 29 Proofpoint attempts,
// 12 blocks (41.4%), 8 deferrals. The daemon's 24h window over the copies
// holds the same.
func TestBlockedIPInWindow(t *testing.T) {
	cfg := demoConfig(t)
	now := time.Date(2026, 12, 2, 2, 28, 35, 0, time.UTC)
	attempts, blocks, deferrals := 0, 0, 0
	for _, s := range samples {
		shifted, _, err := shift(readSample(t, s.path), s.mta, sampleReference, now, cfg.Location)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parseLog(t, cfg, s.mta, shifted, now) {
			ev := p.Event
			if p.Result != pipeline.Parsed || ev.SourceIP != "192.0.2.10" || !ev.Proofpoint || now.Sub(ev.Time) >= 24*time.Hour {
				continue
			}
			attempts++
			if ev.IsBlock() {
				blocks++
			}
			if ev.IsDeferral() {
				deferrals++
			}
		}
	}
	if attempts != 29 || blocks != 12 || deferrals != 8 {
		t.Errorf("192.0.2.10 in the 24h window: %d attempts, %d blocks, %d deferrals; the scan report has 29, 12, 8", attempts, blocks, deferrals)
	}
}

// A timestamp in a shape its MTA does not write is an error, not a line
// copied with its old time.
func TestShiftRefusesUnknownStamps(t *testing.T) {
	for _, c := range []struct{ mta, log, err string }{
		{"postfix", "2026-11-22T08:00:07+00:00 mta1 postfix/smtp[1]: x\n", `postfix log, line 1: "2026-11-22T08:0" is not a "Jan _2 15:04:05" timestamp`},
		{"exim", "Nov 22 08:00:07 mta1 exim[1]: x\n", `exim log, line 1: "Nov 22 08:00:07 mta" is not a "2006-01-02 15:04:05" timestamp`},
		{"pmta", "d,2026-11-22 09:00:02+0000,x\n", "pmta log, line 1: a record before the header"},
		{"pmta", "type,timeLogged\nd,1795338001\n", `pmta log, line 2: "1795338001" is not a "2006-01-02 15:04:05-0700" timestamp`},
	} {
		_, _, err := shift([]byte(c.log), c.mta, sampleReference, sampleReference, time.UTC)
		if err == nil || err.Error() != c.err {
			t.Errorf("%s %q: error %v, want %s", c.mta, c.log, err, c.err)
		}
	}
}

// Appended lines are written in the config's zone, the one the daemon
// reads them in, whatever the machine's zone, and end about now.
func TestAppendLinesZone(t *testing.T) {
	loc := time.FixedZone("UTC+5", 5*3600)
	path := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := appendLines(path, 1, loc); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := demoConfig(t)
	cfg.Location = loc
	n := 0
	for _, p := range parseLog(t, cfg, "postfix", log, before.Add(time.Hour)) {
		if p.Result != pipeline.Parsed {
			continue
		}
		n++
		if d := p.Event.Time.Sub(before); d < -4*time.Second || d > 2*time.Second {
			t.Errorf("appended attempt at %s, %s from the time of writing", p.Event.Time, d)
		}
	}
	if n != 4 {
		t.Errorf("%d attempts appended, want 4", n)
	}
}
