package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
	"github.com/ppwatch/ppwatch/pkg/tailer"
)

// The daemon's side of a path dropped from the config and restored (a typo
// and its fix): through a reload and through a restart, the restored file's
// lines are counted exactly once, and only after the age limit is its
// position gone.

const positionsConfig = `listen: 127.0.0.1:0
state_file: %s
flush_interval: 20ms
inputs:
%s`

type positionsEnv struct {
	t          *testing.T
	dir, state string
	a, b       string
	clk        *clock
	n          int // attempts written so far, for distinct lines
}

func newPositionsEnv(t *testing.T) *positionsEnv {
	dir := t.TempDir()
	return &positionsEnv{t: t, dir: dir, state: filepath.Join(dir, "ppwatch.db"),
		a: filepath.Join(dir, "a.log"), b: filepath.Join(dir, "b.log"),
		clk: testkit.NewClock(time.Date(2026, 11, 22, 10, 10, 0, 0, time.UTC))}
}

func (e *positionsEnv) config(paths ...string) *config.Config {
	e.t.Helper()
	var in strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&in, "  - {path: %s, mta: postfix}\n", p)
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(positionsConfig, e.state, in.String())), "test.yml")
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

func (e *positionsEnv) start(paths ...string) *App {
	e.t.Helper()
	a, err := New(Options{Config: e.config(paths...), Logger: zerolog.New(zerolog.NewTestWriter(e.t)), Now: e.clk.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *positionsEnv) stop(a *App) {
	e.t.Helper()
	if err := a.Stop(); err != nil {
		e.t.Fatal(err)
	}
}

// write appends k delivered attempts to path.
func (e *positionsEnv) write(path string, k int) {
	e.t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	for range k {
		e.n++
		fmt.Fprintf(f, sentLine+"\n", "2026-11-22T10:05:01+00:00", e.n%100, fmt.Sprintf("u%d@wayne.example", e.n))
	}
}

// attempts waits until the App has counted want attempts in all, and
// checks that it stays there over a few more commits.
func attempts(t *testing.T, a *App, want int) {
	t.Helper()
	count := func() int {
		n := 0
		for _, l := range strings.Split(get(t, a, "/metrics"), "\n") {
			if strings.HasPrefix(l, "ppwatch_attempts_total{") {
				v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
				if err != nil {
					t.Fatal(err)
				}
				n += int(v)
			}
		}
		return n
	}
	eventually(t, fmt.Sprintf("%d attempts", want), func() bool { return count() >= want })
	time.Sleep(100 * time.Millisecond) // five flush intervals: nothing more comes
	if got := count(); got != want {
		t.Fatalf("attempts %d, want %d", got, want)
	}
}

func TestInputDroppedAndRestoredByReload(t *testing.T) {
	e := newPositionsEnv(t)
	e.write(e.a, 10)
	e.write(e.b, 20)
	a := e.start(e.a, e.b)
	defer a.Stop()
	attempts(t, a, 30)
	for round := range 3 {
		if err := a.Reload(e.config(e.a)); err != nil {
			t.Fatal(err)
		}
		e.write(e.b, 5) // not an input now: read when it is again
		e.write(e.a, 1)
		attempts(t, a, 30+6*round+1)
		if err := a.Reload(e.config(e.a, e.b)); err != nil {
			t.Fatal(err)
		}
		attempts(t, a, 30+6*(round+1))
	}
}

func TestInputDroppedAndRestoredByRestart(t *testing.T) {
	e := newPositionsEnv(t)
	e.write(e.a, 10)
	e.write(e.b, 20)
	a := e.start(e.a, e.b)
	attempts(t, a, 30)
	e.stop(a)

	a = e.start(e.a)
	attempts(t, a, 30)
	parkedAt := e.clk.Now()
	eventually(t, "b parked", func() bool { return parked(t, a, e.b).Equal(parkedAt) })
	e.stop(a)
	e.write(e.b, 7)
	e.clk.Set(e.clk.Now().Add(29 * 24 * time.Hour)) // inside the age limit
	a = e.start(e.a)
	attempts(t, a, 30)
	if got := parked(t, a, e.b); !got.Equal(parkedAt) {
		t.Errorf("b parked %v, want %v (the first start without it)", got, parkedAt)
	}
	e.stop(a)

	a = e.start(e.a, e.b)
	attempts(t, a, 37)
	if got := parked(t, a, e.b); !got.IsZero() {
		t.Errorf("b still parked (%v) while an input", got)
	}
	e.stop(a)
}

// After the age limit (30 days) the position is dropped: a path restored
// after that is new to ppwatch and read from its start, as documented.
func TestInputDroppedPastTheAgeLimit(t *testing.T) {
	e := newPositionsEnv(t)
	e.write(e.a, 10)
	e.write(e.b, 20)
	a := e.start(e.a, e.b)
	attempts(t, a, 30)
	e.stop(a)

	a = e.start(e.a)
	parkedAt := e.clk.Now()
	eventually(t, "b parked", func() bool { return parked(t, a, e.b).Equal(parkedAt) })
	e.stop(a)
	e.clk.Set(parkedAt.Add(30 * 24 * time.Hour))
	a = e.start(e.a)
	eventually(t, "b dropped", func() bool { _, ok := positions(t, a)[e.b]; return !ok })
	e.stop(a)

	a = e.start(e.a, e.b)
	attempts(t, a, 50)
	e.stop(a)
}

func positions(t *testing.T, a *App) map[string]tailer.Position {
	t.Helper()
	saved, err := a.store.Positions()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tailer.Position{}
	for k, b := range saved {
		var p tailer.Position
		if err := p.UnmarshalBinary(b); err != nil {
			t.Fatalf("position %s: %v", k, err)
		}
		out[k] = p
	}
	return out
}

// parked is when the committed position of path was parked (zero if it is
// not, or there is none).
func parked(t *testing.T, a *App, path string) time.Time {
	t.Helper()
	return positions(t, a)[path].Parked
}
