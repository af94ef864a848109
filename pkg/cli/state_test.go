package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/tailer"
)

// writeState makes a state file as the daemon leaves it: counts, replies,
// a file position and a journald cursor.
func writeState(t *testing.T, path string) {
	t.Helper()
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for m := range 120 {
		b := store.NewBatch()
		for i := range 50 {
			ts := t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second)
			d := fmt.Sprintf("d%02d.example", i%40)
			b.Add(ts, store.Series{MTA: "postfix", SourceIP: "192.0.2.25", RecipientDomain: d, Status: "bounced", Class: "reputation", Proofpoint: true, Outcome: "block"})
			b.AddReply(ts, store.Reply{SourceIP: "192.0.2.25", RecipientDomain: d, Response: "550 5.7.0 Blocked", SMTPCode: 550, EnhancedCode: "5.7.0", Class: "reputation"})
		}
		pos, err := tailer.Position{Path: "/var/log/mail.log", ID: tailer.Identity{Dev: 2049, Inode: 77, FPLen: 1024}, Offset: int64(m) * 9000}.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b.Positions["/var/log/mail.log"] = pos
		b.Positions["journald:exim4.service"] = fmt.Appendf(nil, "s=7d3c;i=%x;b=51ab;m=%x;t=5f1e;x=9c", m, m)
		if err := s.Apply(b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStateCheckAndRepair(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ppwatch.db")
	writeState(t, path)

	code, out, errs := run(t, "", "state", "check", path)
	if code != ExitOK || errs != "" || !strings.HasSuffix(out, path+": ok\n") || !strings.Contains(out, "positions 2 replies 40 series 40") {
		t.Fatalf("check of a sound file: %d\n%s%s", code, out, errs)
	}
	// The config's state_file when no file is given.
	cfg := filepath.Join(dir, "ppwatch.yml")
	os.WriteFile(cfg, []byte("state_file: "+path+"\ninputs: [{path: /var/log/mail.log, mta: postfix}]\n"), 0o644)
	if code, out, _ := run(t, "", "state", "check", "--config", cfg); code != ExitOK || !strings.HasSuffix(out, path+": ok\n") {
		t.Errorf("check --config: %d\n%s", code, out)
	}

	// A position that cannot be decoded, in the last two commits (else the
	// repair copies the commit before it, which is whole).
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		b := store.NewBatch()
		b.Positions["/var/log/mail.log"] = []byte{9}
		if err := st.Apply(b); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	code, out, errs = run(t, "", "state", "check", path)
	if code != ExitUsage || strings.Count(errs, path) != 1 ||
		!strings.HasPrefix(errs, "ppwatch: state file "+path+`: damaged: bucket positions key "/var/log/mail.log": position cannot be decoded: tailer: unsupported position version 9; stop ppwatch and run "ppwatch state repair" on it`) {
		t.Errorf("check of a bad position: %d\n%s%s", code, out, errs)
	}

	code, out, errs = run(t, "", "state", "repair", path)
	repaired := path + ".repaired"
	want := fmt.Sprintf("written:  %s\nto use it, stop ppwatch, then:\n  mv %s %s.damaged\n  mv %s %s\nand start ppwatch again.\n", repaired, path, path, repaired, path)
	if code != ExitOK || errs != "" || !strings.HasSuffix(out, want) ||
		!strings.Contains(out, "lost:     positions: some could not be read or decoded; an input whose position was lost is read again from the start of its current file") {
		t.Fatalf("repair: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := run(t, "", "state", "check", repaired); code != ExitOK {
		t.Errorf("check of the repaired file: %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run(t, "", "state", "repair", path); code != ExitRuntime || !strings.Contains(errs, repaired+": exists; repair writes a new file and never replaces one") {
		t.Errorf("repair over an existing file: %d %s", code, errs)
	}
	other := filepath.Join(dir, "other.db")
	if code, out, _ := run(t, "", "state", "repair", "--out", other, path); code != ExitOK || !strings.Contains(out, "written:  "+other+"\n") {
		t.Errorf("repair --out: %d\n%s", code, out)
	}

	// Cut to its meta pages, it has lost every page of its commits,
	// bucket lists included: refused, and nothing to repair. (Cut in
	// half, what is left depends on where bbolt happened to put pages.)
	if err := os.Truncate(path, 2*4096); err != nil {
		t.Fatal(err)
	}
	code, out, errs = run(t, "", "state", "check", path)
	if code != ExitUsage || !strings.HasPrefix(errs, "ppwatch: state file "+path+": damaged: cut short: ") || strings.Count(errs, path) != 1 {
		t.Errorf("check of a cut file: %d\n%s%s", code, out, errs)
	}
	code, _, errs = run(t, "", "state", "repair", "--out", filepath.Join(dir, "third.db"), path)
	if code != ExitUsage || !strings.Contains(errs, "there is nothing to save; move it aside") {
		t.Errorf("repair of a cut file: %d %s", code, errs)
	}
}

func TestStateErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ppwatch.db")
	writeState(t, path)
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	zeros := filepath.Join(dir, "zeros.db")
	os.WriteFile(zeros, make([]byte, 1<<16), 0o600)
	tests := []struct {
		args []string
		code int
		errs string
	}{
		{[]string{"state"}, ExitUsage, "ppwatch: state: give check or repair (run \"ppwatch help\")\n"},
		{[]string{"state", "frob"}, ExitUsage, "ppwatch: state: unknown command \"frob\" (use check or repair)\n"},
		{[]string{"state", "check", "a.db", "b.db"}, ExitUsage, "ppwatch: state check: give one state file\n"},
		{[]string{"state", "check", path}, ExitRuntime, "ppwatch: state file " + path + ": in use by another ppwatch (no lock within 1s)\n"},
		{[]string{"state", "check", zeros}, ExitUsage, "ppwatch: state file " + zeros + ": not a ppwatch state file: invalid database; "},
		{[]string{"state", "check", filepath.Join(dir, "none.db")}, ExitRuntime, "ppwatch: state file " + filepath.Join(dir, "none.db") + ": open "},
	}
	for _, tt := range tests {
		code, _, errs := run(t, "", tt.args...)
		if code != tt.code || !strings.HasPrefix(errs, tt.errs) {
			t.Errorf("%q: %d %q, want %d %q", tt.args, code, errs, tt.code, tt.errs)
		}
	}
}
