// Command ppbench measures "ppwatch scan" against "grep -c pphosted" on
// generated, deterministic Postfix, Exim and PowerMTA logs and prints
// lines/s, MB/s and peak RSS. Both run with GOMAXPROCS=1 / on one core (taskset when present);
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
	domains := flag.Int("domains", 0, "also measure ppwatch run over a flood of this many Proofpoint attempts, each to a recipient domain of its own (catch-up, RSS, state file, exact counts, /api/v1/ip, restart); 0: not")
	floodOnly := flag.Bool("flood-only", false, "measure the -domains flood only")
	scan := flag.Bool("scan", true, "time ppwatch scan beside grep (false: the daemon figures only, for repeated runs)")
	floodConfig := flag.String("flood-config", "", "config lines added for the -domains flood's daemon, e.g. 'domains: {stored_total: 20000}'")
	keep := flag.Bool("keep", false, "keep the daemon benchmarks' logs and state files in -dir")
	pgo := flag.String("pgo", "", "only write a CPU profile of scan over the three generated logs to this `file` and exit (make pgo: cmd/ppwatch/default.pgo)")
	flag.Parse()

	if *pgo != "" {
		writeProfile(*pgo, *dir, *lines, *seed)
		return
	}

	if *genOnly != "" {
		f, err := os.Create(*genOnly)
		if err != nil {
			fail(err)
		}
		if _, err := loggen.Write(f, sampleOptions(*lines, *seed)); err != nil {
			fail(err)
		}
		if err := f.Close(); err != nil {
			fail(err)
		}
		return
	}

	if *floodOnly {
		*daemonBench = false
	}
	if *floodOnly || !*scan {
		scanBenches = nil
	}
	var postfixScan time.Duration
	for _, b := range scanBenches {
		wall := benchScan(b, *dir, *lines, *seed, *runs, *bin)
		if b.mta == "postfix" {
			postfixScan = wall
		}
	}
	if !*daemonBench && *domains == 0 {
		return
	}
	d, err := os.MkdirTemp(*dir, "ppbench-daemon-")
	if err != nil {
		fail(err)
	}
	if *keep {
		fmt.Println("daemon files kept in", d)
	} else {
		defer os.RemoveAll(d)
	}
	if *daemonBench {
		fmt.Println()
		benchDaemon(*bin, d, *lines, *runs, postfixScan.Seconds())
	}
	if *domains > 0 {
		fmt.Println()
		benchFlood(*bin, d, *domains, *floodConfig)
	}
}

// sampleOptions shape the -gen log, a slow flow from one sending IP that
// Proofpoint blocks: testdata/postfix/sample.log is its first 240 lines of
// seed 42 (make sample).
func sampleOptions(lines int, seed uint64) loggen.Options {
	return loggen.Options{Lines: lines, Seed: seed, Start: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), Domains: 60, Rate: 0.05,
		ProofpointShare: 0.5, SourceIPs: []string{"192.0.2.20"}}
}

// scanBenches are the scan targets, on one core, as shares of grep's
// throughput on the same file.
var scanBenches = []scanBench{{"postfix", 40}, {"exim", 30}, {"pmta", 25}}

type scanBench struct {
	mta    string
	target float64 // percent of grep's throughput
}

// benchScan times "ppwatch scan" beside "grep -c pphosted" on a generated
// log of one MTA and prints both and the ratio; it returns scan's time.
func benchScan(b scanBench, dir string, lines int, seed uint64, runs int, bin string) time.Duration {
	path, size := writeScanLog(dir, b.mta, lines, seed)
	defer os.Remove(path)
	fmt.Printf("%s log: %s, %d lines, %.1f MB\n", b.mta, path, lines, float64(size)/1e6)
	// Runs alternate, so that a slow spell of a shared machine falls on
	// both commands alike; each keeps its best.
	var grep, scan result
	for i := 0; i < runs; i++ {
		grep = grep.best(measure(1, "grep", "-c", "pphosted", path))
		scan = scan.best(measure(1, bin, "scan", "--mta", b.mta, path))
	}
	fmt.Printf("%-28s %10s %12s %10s %14s\n", "command", "seconds", "lines/s", "MB/s", "peak RSS MiB")
	for _, r := range []struct {
		name string
		m    result
	}{{"grep -c pphosted", grep}, {"ppwatch scan --mta " + b.mta, scan}} {
		s := r.m.wall.Seconds()
		fmt.Printf("%-28s %10.3f %12.0f %10.1f %14.1f\n", r.name, s, float64(lines)/s, float64(size)/1e6/s, float64(r.m.maxRSSKiB)/1024)
	}
	fmt.Printf("%s scan throughput = %.0f%% of grep's (target >= %.0f%%); scan peak RSS %.1f MiB (target <= 64 MiB)\n\n",
		b.mta, 100*grep.wall.Seconds()/scan.wall.Seconds(), b.target, float64(scan.maxRSSKiB)/1024)
	return scan.wall
}

// writeScanLog writes the generated log of one MTA and returns its path and
// size.
func writeScanLog(dir, mta string, lines int, seed uint64) (string, int64) {
	path := filepath.Join(dir, fmt.Sprintf("ppbench-%s-%d.log", mta, lines))
	f, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	size, err := loggen.Write(f, loggen.Options{MTA: mta, Lines: lines, Seed: seed})
	if err == nil {
		// Written back before the runs: pages still being written slow
		// down whoever reads them, by turns.
		err = f.Sync()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		fail(err)
	}
	return path, size
}

type result struct {
	wall      time.Duration
	maxRSSKiB int64
}

// best keeps the shorter time and the larger peak RSS; the zero result
// counts as none.
func (r result) best(o result) result {
	if r.wall == 0 || o.wall < r.wall {
		r.wall = o.wall
	}
	r.maxRSSKiB = max(r.maxRSSKiB, o.maxRSSKiB)
	return r
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
