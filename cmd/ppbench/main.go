// Command ppbench measures "ppwatch scan" against "grep -c pphosted" on a
// generated, deterministic Postfix log and prints lines/s, MB/s and peak
// RSS. Both run with GOMAXPROCS=1 / on one core (taskset when present);
// each figure is the best of -runs.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ppwatch/ppwatch/pkg/loggen"
)

func main() {
	lines := flag.Int("lines", 1000000, "lines to generate")
	dir := flag.String("dir", os.TempDir(), "where the generated log is written")
	bin := flag.String("ppwatch", "./bin/ppwatch", "ppwatch binary")
	runs := flag.Int("runs", 3, "runs per command; the best is reported")
	genOnly := flag.String("gen", "", "only write the generated log to this `file` and exit")
	seed := flag.Uint64("seed", 1, "generator seed")
	daemonBench := flag.Bool("daemon", true, "also measure ppwatch run (catch-up, steady-state CPU, RSS, scrape)")
	flag.Parse()

	if *genOnly != "" {
		f, err := os.Create(*genOnly)
		if err != nil {
			fail(err)
		}
		if _, err := loggen.Write(f, loggen.Options{Lines: *lines, Seed: *seed, Start: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), Domains: 60, Rate: 0.05, ProofpointShare: 0.5, SourceIPs: []string{"192.0.2.20"}}); err != nil {
			fail(err)
		}
		if err := f.Close(); err != nil {
			fail(err)
		}
		return
	}

	path := filepath.Join(*dir, fmt.Sprintf("ppbench-%d.log", *lines))
	f, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	size, err := loggen.Write(f, loggen.Options{Lines: *lines, Seed: *seed})
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		fail(err)
	}
	fmt.Printf("log: %s, %d lines, %.1f MB\n\n", path, *lines, float64(size)/1e6)

	grep := measure(*runs, "grep", "-c", "pphosted", path)
	scan := measure(*runs, *bin, "scan", "--mta", "postfix", path)
	fmt.Printf("%-28s %10s %12s %10s %14s\n", "command", "seconds", "lines/s", "MB/s", "peak RSS MiB")
	for _, r := range []struct {
		name string
		m    result
	}{{"grep -c pphosted", grep}, {"ppwatch scan", scan}} {
		s := r.m.wall.Seconds()
		fmt.Printf("%-28s %10.3f %12.0f %10.1f %14.1f\n", r.name, s, float64(*lines)/s, float64(size)/1e6/s, float64(r.m.maxRSSKiB)/1024)
	}
	fmt.Printf("\nscan throughput = %.0f%% of grep's (target >= 40%%); scan peak RSS %.1f MiB (target <= 64 MiB)\n",
		100*grep.wall.Seconds()/scan.wall.Seconds(), float64(scan.maxRSSKiB)/1024)
	os.Remove(path)
	if *daemonBench {
		fmt.Println()
		d, err := os.MkdirTemp(*dir, "ppbench-daemon-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		benchDaemon(*bin, d, *lines, *runs, scan.wall.Seconds())
	}
}

type result struct {
	wall      time.Duration
	maxRSSKiB int64
}

func measure(runs int, name string, args ...string) result {
	best := result{wall: time.Duration(1<<63 - 1)}
	for i := 0; i < runs; i++ {
		argv := append([]string{name}, args...)
		if ts, err := exec.LookPath("taskset"); err == nil {
			argv = append([]string{ts, "-c", "0"}, argv...)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		// Not /dev/null: GNU grep stops at the first match when its output
		// is discarded.
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		if err != nil && cmd.ProcessState == nil {
			fail(fmt.Errorf("%s: %w", name, err))
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if wall < best.wall {
			best.wall = wall
		}
		if ru.Maxrss > best.maxRSSKiB {
			best.maxRSSKiB = ru.Maxrss
		}
	}
	return best
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ppbench:", err)
	os.Exit(1)
}
