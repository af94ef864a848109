package app

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/ingest"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/tailer"
)

func TestCheckPosition(t *testing.T) {
	good, err := tailer.Position{Path: "/var/log/mail.log", ID: tailer.Identity{Dev: 2049, Inode: 12, FPLen: 1024, FP: sha256.Sum256([]byte("x"))}, Offset: 4096}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{7}, good[1:]...)
	tests := []struct {
		key   string
		value []byte
		want  string // "" for none
	}{
		{"/var/log/mail.log", good, ""},
		{"/var/log/mail.log", bad, "tailer: unsupported position version 7"},
		{"/var/log/mail.log", good[:30], "tailer: position too short (30 bytes)"},
		{"/var/log/mail.log", nil, "tailer: empty position"},
		{"journald:postfix@-.service", []byte("s=7d3c0ea2;i=1a2b;b=51ab;m=9f;t=5f1e;x=9c07"), ""},
		{"journald:postfix@-.service", nil, "empty journald cursor"},
		{"journald:postfix@-.service", []byte("s=7d3c\n--since=2000-01-01"), "journald cursor with byte 0xa"},
		// A tailer position under a journald key is not a cursor.
		{"journald:exim4.service", good, "journald cursor with byte 0x1"},
	}
	for _, tt := range tests {
		err := ingest.CheckPosition(tt.key, tt.value)
		if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
			t.Errorf("CheckPosition(%q, %x) = %v, want %q", tt.key, tt.value, err, tt.want)
		}
	}
}

const stateConfig = `listen: 127.0.0.1:0
state_file: %[1]s/ppwatch.db
flush_interval: 20ms
inputs: [{path: %[1]s/mail.log, mta: postfix}]
source_ips: [{mta: postfix, ip: 192.0.2.25}]
`

func stateApp(t *testing.T, dir string) (*App, error) {
	t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(stateConfig, dir)), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t))})
}

// The state file's errors name it once (not "state file P: state file P:
// ..."), keep their type for the exit code, and say the way out.
func TestStateFileErrors(t *testing.T) {
	t.Run("in use", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "ppwatch.db")
		s, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = stateApp(t, dir)
		if !errors.Is(err, ErrStateInUse) || !errors.Is(err, store.ErrLocked) {
			t.Fatalf("New = %v, want ErrStateInUse and store.ErrLocked", err)
		}
		if want := "state file " + path + ": in use by another ppwatch (no lock within 1s)"; err.Error() != want {
			t.Errorf("New = %q, want %q", err, want)
		}
	})
	t.Run("undecodable position", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "ppwatch.db")
		s, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b := store.NewBatch()
		b.Positions[filepath.Join(dir, "mail.log")] = []byte{9, 0, 0}
		if err := s.Apply(b); err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err = stateApp(t, dir)
		if !errors.Is(err, store.ErrDamaged) {
			t.Fatalf("New = %v, want store.ErrDamaged", err)
		}
		want := fmt.Sprintf("state file %s: damaged: bucket positions key %q: position cannot be decoded: tailer: unsupported position version 9; stop ppwatch and run \"ppwatch state repair\" on it",
			path, filepath.Join(dir, "mail.log"))
		if !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), path) != 1 {
			t.Errorf("New = %q, want it to start with %q and name the file once", err, want)
		}
	})
	t.Run("not a store", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "ppwatch.db")
		os.WriteFile(path, make([]byte, 1<<15), 0o600)
		_, err := stateApp(t, dir)
		if !errors.Is(err, store.ErrNotStore) || strings.Count(err.Error(), path) != 1 {
			t.Errorf("New = %v, want store.ErrNotStore naming the file once", err)
		}
	})
}

// Damage met while running stops ingestion cleanly: no panic, the store
// marked unhealthy, nothing more committed, and the file refused at the
// next start.
func TestDamageWhileRunning(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	writeLog(t, logPath)
	a, err := stateApp(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	const attempts = `ppwatch_attempts_total{class="reputation",mta="postfix",proofpoint="true",source_ip="192.0.2.25",status="bounced"} 2`
	eventually(t, "the log counted", func() bool { return hasLine(get(t, a, "/metrics"), attempts) })
	if !hasLine(get(t, a, "/metrics"), "ppwatch_store_healthy 1") {
		t.Fatal("store not healthy before the damage")
	}

	// Cut the file to its two meta pages under the daemon, then give it
	// more to read.
	state := filepath.Join(dir, "ppwatch.db")
	if err := os.Truncate(state, 2*int64(os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, blockLine+"\n", "2026-11-22T10:06:01+00:00", 5)
	f.Close()
	eventually(t, "the store marked unhealthy", func() bool { return hasLine(get(t, a, "/metrics"), "ppwatch_store_healthy 0") })
	if err := a.store.Damaged(); !errors.Is(err, store.ErrDamaged) {
		t.Fatalf("Damaged() = %v", err)
	}
	// Nothing is guessed: the figures stay those last committed.
	time.Sleep(100 * time.Millisecond)
	m := get(t, a, "/metrics")
	if !hasLine(m, attempts) {
		t.Errorf("attempts changed after the damage:\n%s", grep(m, "ppwatch_attempts_total"))
	}
	get(t, a, "/-/healthy")
	// Not ready: the operator sees why, and the way out.
	if code, body := ready(t, a); code != 503 || !strings.Contains(body, "damaged") || !strings.Contains(body, state) {
		t.Errorf("/-/ready after the damage: %d %q, want 503 naming the damaged file", code, body)
	}

	done := make(chan error, 1)
	go func() { done <- a.Stop() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop hangs after the damage")
	}
	if _, err := stateApp(t, dir); !errors.Is(err, store.ErrDamaged) {
		t.Errorf("New after the damage = %v, want store.ErrDamaged", err)
	}
}
