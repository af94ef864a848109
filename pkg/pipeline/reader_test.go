package pipeline

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func collect(t *testing.T, l *Log) ([]string, error) {
	t.Helper()
	var got []string
	err := l.Lines(func(n int, line string, tooLong bool) error {
		if n != len(got)+1 {
			t.Fatalf("line number %d after %d lines", n, len(got))
		}
		if tooLong {
			line = "(too long)"
		}
		got = append(got, strings.Clone(line))
		return nil
	})
	return got, err
}

// A mapped file, a gzip'd file and standard input give the same lines,
// with a last line that has no newline and one longer than MaxLineBytes.
func TestLogLinesAllSources(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", MaxLineBytes+1)
	text := "first\n\nthird line\n" + long + "\nlast without newline"
	want := []string{"first", "", "third line", "(too long)", "last without newline"}
	plain := filepath.Join(dir, "mail.log")
	os.WriteFile(plain, []byte(text), 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	zw.Close()
	zipped := filepath.Join(dir, "mail.log.1.gz")
	os.WriteFile(zipped, gz.Bytes(), 0o644)
	for _, tc := range []struct{ name, path, stdin string }{
		{"mapped", plain, ""}, {"gzip", zipped, ""}, {"stdin", "-", text},
	} {
		l, err := Open(tc.path, strings.NewReader(tc.stdin))
		if err != nil {
			t.Fatal(err)
		}
		if tc.name == "mapped" && l.data == nil {
			t.Errorf("a regular file is not mapped")
		}
		if h := string(l.Head(11)); h != "first\n\nthir" {
			t.Errorf("%s: head %q", tc.name, h)
		}
		got, err := collect(t, l)
		l.Close()
		if err != nil || !cmp.Equal(got, want) {
			t.Errorf("%s: err %v, lines %q", tc.name, err, got)
		}
	}
}

// A mapped file truncated while it is read (copytruncate of a live log)
// ends its reading with an error for that file, not a crash.
func TestLogTruncatedWhileMapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	var b strings.Builder
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&b, "line %d of a log that logrotate truncates\n", i)
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
	l, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n := 0
	err = l.Lines(func(int, string, bool) error {
		if n++; n == 10 {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "the file shrank while it was read") || n >= 100000 {
		t.Fatalf("after %d lines: %v", n, err)
	}
}
