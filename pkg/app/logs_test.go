package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
)

// duplicateKeys returns the keys an object line has more than once.
func duplicateKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	seen := map[string]bool{}
	var dups []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := tok.(string)
		if seen[k] {
			dups = append(dups, k)
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return dups, nil
}

// Every log line of a daemon that reads, alerts, notifies and reloads is
// one JSON object with each key once (a log shipper keeps one of two).
func TestLogLinesHaveNoDuplicateKeys(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, filepath.Join(dir, "mail.log"))
	am := newAlertmanager(t)
	clk := testkit.NewClock(t1)
	cfg, err := config.Parse([]byte(fmt.Sprintf(testConfig, dir, am.URL, "0.4", "0s")), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	// A missing input, so that the tailer has something to say.
	cfg.Inputs = append(cfg.Inputs, config.Input{Path: filepath.Join(dir, "exim", "mainlog"), MTA: "exim"})
	var logs testkit.SyncBuffer
	a, err := New(Options{Config: cfg, Logger: zerolog.New(io.MultiWriter(&logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	am.next(t) // fired and sent: the notifier has logged
	if err := a.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	components := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		dups, err := duplicateKeys(l)
		if err != nil {
			t.Errorf("not one JSON object: %v: %s", err, l)
			continue
		}
		if len(dups) > 0 {
			t.Errorf("keys %v twice: %s", dups, l)
		}
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		if c, ok := m["component"].(string); ok {
			components[c] = true
		}
	}
	for _, c := range []string{"tailer", "ingest", "alert", "notify", "web"} {
		if !components[c] {
			t.Errorf("no log line of component %s: the test did not see it", c)
		}
	}
}

// --log.format logfmt writes what json writes, as Prometheus's own logfmt
// lines: time, level and message first, strings quoted where needed.
func TestLogFormatLogfmt(t *testing.T) {
	defer func(f func() time.Time) { zerolog.TimestampFunc = f }(zerolog.TimestampFunc)
	zerolog.TimestampFunc = func() time.Time { return time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC) }
	var b bytes.Buffer
	log, err := NewLogger(&b, "info", "logfmt")
	if err != nil {
		t.Fatal(err)
	}
	log.Warn().Str("input", "/var/log/mail.log").Int("lines", 3).Float64("retry_in_seconds", 1.5).Bool("ok", false).
		Err(fmt.Errorf(`open "x": permission denied`)).Msg("cannot read")
	log.Debug().Msg("not shown")
	log.Info().Msg("plain")
	want := `time=2026-12-02T03:04:05Z level=warn message="cannot read" input=/var/log/mail.log lines=3 retry_in_seconds=1.5 ok=false error="open \"x\": permission denied"
time=2026-12-02T03:04:05Z level=info message=plain
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if _, err := NewLogger(&b, "info", "text"); err == nil || err.Error() != `--log.format: unknown format "text" (use json, logfmt or console)` {
		t.Errorf("bad format: %v", err)
	}
}

// A duration in a log line says its unit in its key (retry_in_seconds):
// zerolog's Dur writes milliseconds under the bare name.
func TestLogDurationsNameTheirUnit(t *testing.T) {
	files, _ := filepath.Glob("../../pkg/*/*.go")
	more, _ := filepath.Glob("../../cmd/*/*.go")
	for _, f := range append(files, more...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), ".Dur(") {
			t.Errorf("%s logs a duration with Dur: use Float64(\"<name>_seconds\", d.Seconds())", f)
		}
	}
}
