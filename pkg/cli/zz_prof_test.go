package cli

import (
	"io"
	"os"
	"strings"
	"testing"
)

func BenchmarkScanFile(b *testing.B) {
	path := os.Getenv("PROF_FILE")
	mta := os.Getenv("PROF_MTA")
	for i := 0; i < b.N; i++ {
		Main([]string{"scan", "--mta", mta, path}, Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard})
	}
}
