package tailer

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A path that leaves the inputs (a typo in the config) and comes back: its
// file resumes where it was, so no line is counted twice, however often.
func TestParkedPathResumes(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendLines(t, a, "a", 1, 10)
	appendLines(t, b, "b", 1, 10)
	both := Config{Inputs: []string{a, b}}
	saved := firstRun(t, both, 20)
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

	var h *harness
	for round := range 3 {
		parkedAt := now
		clock := func() time.Time { return now }
		// Stamped on the first start without it, left alone at the next.
		for i := range 2 {
			h = startTailer(t, Config{Inputs: []string{a}, Now: clock}, saved, true)
			h.settle()
			ev := h.snapshot()
			wantEv := []Line{{Kind: ParkKind, Path: b, Pos: posOf(t, b, b)}}
			wantEv[0].Pos.Parked = parkedAt
			if i > 0 {
				wantEv = nil
			}
			if diff := cmp.Diff(wantEv, keyed(ev, b)); diff != "" {
				t.Fatalf("round %d, start %d: events (-want +got):\n%s", round, i, diff)
			}
			h.stop()
			saved = commit(t, saved, ev)
			if got := saved[b].Parked; !got.Equal(parkedAt) {
				t.Fatalf("round %d: b parked %v, want %v", round, got, parkedAt)
			}
			now = now.Add(time.Hour)
		}

		// Written to while not an input, then restored.
		from := 11 + 5*round
		appendLines(t, b, "b", from, from+4)
		h = startTailer(t, both, saved, true)
		h.waitLines(5)
		h.settle()
		ev := h.snapshot()
		checkLines(t, seq(from, from+4), ev)
		saved = commit(t, saved, ev)
		checkPositions(t, map[string]Position{a: posOf(t, a, a), b: posOf(t, b, b)}, saved)
		checkStats(t, h, Stats{})
		h.stop()
		now = now.Add(24 * time.Hour)
	}
}

// A position parked for ParkFor is dropped at the next start without its
// path; a path restored after that is a new file to ppwatch, read from 0.
func TestParkedPositionDroppedAfterParkFor(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendLines(t, a, "a", 1, 10)
	appendLines(t, b, "b", 1, 10)
	saved := firstRun(t, Config{Inputs: []string{a, b}}, 20)
	parkedAt := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	now := parkedAt
	onlyA := Config{Inputs: []string{a}, ParkFor: 7 * 24 * time.Hour, Now: func() time.Time { return now }}

	for _, at := range []time.Time{parkedAt, parkedAt.Add(7*24*time.Hour - time.Second)} {
		now = at
		h := startTailer(t, onlyA, saved, true)
		h.settle()
		h.stop()
		saved = commit(t, saved, h.snapshot())
		if _, ok := saved[b]; !ok {
			t.Fatalf("at %v: b's position dropped before its time", at)
		}
	}
	now = parkedAt.Add(7 * 24 * time.Hour)
	h := startTailer(t, onlyA, saved, true)
	h.settle()
	h.stop()
	ev := h.snapshot()
	want := saved[b]
	if diff := cmp.Diff([]Line{{Kind: GoneKind, Path: b, Pos: want}}, keyed(ev, b)); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	saved = commit(t, saved, ev)
	checkPositions(t, map[string]Position{a: posOf(t, a, a)}, saved)

	h = startTailer(t, Config{Inputs: []string{a, b}}, saved, true)
	h.waitLines(10)
	h.settle()
	checkLines(t, seq(1, 10), h.snapshot())
	checkStats(t, h, Stats{})
}

// At most ParkMax positions are kept: the most recently parked.
func TestParkedPositionsBounded(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.log")
	appendLines(t, keep, "k", 1, 1)
	inputs := []string{keep}
	var paths []string
	for i := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("%d.log", i))
		appendLines(t, p, "x", 1, 1)
		paths = append(paths, p)
		inputs = append(inputs, p)
	}
	saved := firstRun(t, Config{Inputs: inputs}, 6)
	// Parked one by one, a day apart: 0.log first.
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for i := range paths {
		h := startTailer(t, Config{Inputs: append([]string{keep}, paths[i+1:]...), ParkMax: 3, Now: clock}, saved, true)
		h.settle()
		h.stop()
		saved = commit(t, saved, h.snapshot())
		now = now.Add(24 * time.Hour)
	}
	var got []string
	for k := range saved {
		got = append(got, k)
	}
	sort.Strings(got)
	want := []string{paths[2], paths[3], paths[4], keep}
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("saved keys (-want +got):\n%s", diff)
	}
}

// keyed returns the events stored under key.
func keyed(ev []Line, key string) []Line {
	var out []Line
	for _, l := range ev {
		if l.Pos.Path == key {
			out = append(out, l)
		}
	}
	return out
}
