package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
)

// syncBuffer is a log sink the daemon's goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

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
	clk := &clock{t: t1}
	cfg, err := config.Parse([]byte(fmt.Sprintf(testConfig, dir, am.URL, "0.4", "0s")), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	// A missing input, so that the tailer has something to say.
	cfg.Inputs = append(cfg.Inputs, config.Input{Path: filepath.Join(dir, "exim", "mainlog"), MTA: "exim"})
	var logs syncBuffer
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
