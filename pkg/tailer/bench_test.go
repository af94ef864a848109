package tailer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkCatchUp reads 1,000,000 lines (about 100 MB, syslog-sized lines)
// from one file through Run into a consumer, as after a long stop.
func BenchmarkCatchUp(b *testing.B) {
	const lines = 1_000_000
	path := filepath.Join(b.TempDir(), "maillog")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range lines {
		fmt.Fprintf(w, "Jan  1 00:00:00 mx1 postfix/smtp[12345]: 4F3A2B1C0D: to=<user%07d@example.com>, status=sent\n", i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		tl, err := New(Config{Inputs: []string{path}, Logger: zerolog.Nop()}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan Batch, 4)
		done := make(chan struct{})
		go func() {
			tl.Run(ctx, out)
			close(done)
		}()
		for n := 0; n < lines; {
			bt := <-out
			for _, l := range bt.Lines {
				if l.Kind == LineKind {
					n++
				}
			}
			tl.Release(bt) // as the daemon does
		}
		cancel()
		<-done
	}
	b.ReportMetric(float64(lines)*float64(b.N)/time.Since(start).Seconds(), "lines/s")
}
