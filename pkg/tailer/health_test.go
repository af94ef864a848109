package tailer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppwatch/ppwatch/pkg/internal/privtest"
)

func TestCheck(t *testing.T) {
	if !privtest.Unprivileged(t) {
		return
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(good, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret.log")
	if err := os.WriteFile(secret, []byte("x\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		input, reason, path string
	}{
		{good, "", ""},
		{filepath.Join(dir, "*.log"), "permission", secret}, // the good one matches too, but one is unreadable
		{filepath.Join(dir, "mail.*"), "", ""},
		{filepath.Join(dir, "mial.log"), "not_found", filepath.Join(dir, "mial.log")},
		{filepath.Join(dir, "nothing-*.log"), "not_found", filepath.Join(dir, "nothing-*.log")},
		{good + "/x", "not_found", good + "/x"},
		{secret, "permission", secret},
		{dir, "read_error", dir},
	} {
		err := Check(c.input)
		if c.reason == "" {
			if err != nil {
				t.Errorf("Check(%s) = %v, want nil", c.input, err)
			}
			continue
		}
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("Check(%s) = %v, want an InputError", c.input, err)
			continue
		}
		if ie.Reason != c.reason || ie.Path != c.path || ie.Input != c.input {
			t.Errorf("Check(%s) = {input %s, path %s, reason %s}, want {%s %s %s}", c.input, ie.Input, ie.Path, ie.Reason, c.input, c.path, c.reason)
		}
		if !strings.Contains(err.Error(), Hint(c.reason)) || !strings.HasPrefix(err.Error(), "input "+c.input+": ") {
			t.Errorf("Check(%s): %q names neither the input first nor the fix", c.input, err)
		}
	}
}

// The tailer says per input how many files it follows and why it follows
// none; a problem is counted once when it begins, and the input is healthy
// again when its file can be read.
func TestHealth(t *testing.T) {
	if !privtest.Unprivileged(t) {
		return
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "mail.log")
	missing := filepath.Join(dir, "exim", "mainlog")
	glob := filepath.Join(dir, "acct-*.csv")
	secret := filepath.Join(dir, "secret.log")
	appendLines(t, good, "good", 1, 3)
	appendLines(t, secret, "secret", 1, 2)
	if err := os.Chmod(secret, 0); err != nil {
		t.Fatal(err)
	}
	h := startTailer(t, Config{Inputs: []string{good, missing, glob, secret}}, nil, true)
	defer h.stop()
	h.tick()

	type state struct {
		files  int
		reason string
		errors map[string]uint64
	}
	look := func() map[string]state {
		got := map[string]state{}
		for _, ih := range h.tl.Health() {
			s := state{files: ih.Files, errors: ih.Errors}
			if ih.Problem != nil {
				s.reason = ih.Problem.Reason
			}
			got[ih.Input] = s
		}
		return got
	}
	check := func(when string, want map[string]state) {
		t.Helper()
		got := look()
		for in, w := range want {
			g := got[in]
			if g.files != w.files || g.reason != w.reason || len(g.errors) != len(w.errors) {
				t.Errorf("%s: %s = %+v, want %+v", when, in, g, w)
				continue
			}
			for r, n := range w.errors {
				if g.errors[r] != n {
					t.Errorf("%s: %s errors[%s] = %d, want %d", when, in, r, g.errors[r], n)
				}
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d inputs, want %d", when, len(got), len(want))
		}
	}
	check("at start", map[string]state{
		good:    {1, "", map[string]uint64{}},
		missing: {0, "not_found", map[string]uint64{"not_found": 1}},
		glob:    {0, "not_found", map[string]uint64{"not_found": 1}},
		secret:  {0, "permission", map[string]uint64{"permission": 1}},
	})
	h.tick()
	h.tick()
	check("while it lasts, counted once", map[string]state{
		good:    {1, "", map[string]uint64{}},
		missing: {0, "not_found", map[string]uint64{"not_found": 1}},
		glob:    {0, "not_found", map[string]uint64{"not_found": 1}},
		secret:  {0, "permission", map[string]uint64{"permission": 1}},
	})

	// Fixed: the files appear, the mode is set right.
	if err := os.MkdirAll(filepath.Dir(missing), 0o755); err != nil {
		t.Fatal(err)
	}
	appendLines(t, missing, "exim", 1, 1)
	appendLines(t, filepath.Join(dir, "acct-2026-12-01.csv"), "pmta", 1, 1)
	if err := os.Chmod(secret, 0o644); err != nil {
		t.Fatal(err)
	}
	h.tick()
	check("fixed", map[string]state{
		good:    {1, "", map[string]uint64{}},
		missing: {1, "", map[string]uint64{"not_found": 1}},
		glob:    {1, "", map[string]uint64{"not_found": 1}},
		secret:  {1, "", map[string]uint64{"permission": 1}},
	})
	h.waitLines(3 + 1 + 1 + 2)

	// Gone again: a second problem of the same input is counted again.
	if err := os.Remove(missing); err != nil {
		t.Fatal(err)
	}
	h.tick()
	h.tick() // the first look sees it rotated away, the next closes it
	check("removed", map[string]state{
		good:    {1, "", map[string]uint64{}},
		missing: {0, "not_found", map[string]uint64{"not_found": 2}},
		glob:    {1, "", map[string]uint64{"not_found": 1}},
		secret:  {1, "", map[string]uint64{"permission": 1}},
	})
}
