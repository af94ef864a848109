package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/pkg/loggen"
)

// benchDaemon measures "ppwatch run": catch-up over a 1,000,000-line file
// (best of runs, against the scan's time on the same file), CPU at 1,000 lines/s, peak
// RSS and state file size after 1,000,000 lines with 100,000 Proofpoint
// recipient domains, and the time and size of a /metrics scrape then.
func benchDaemon(bin, dir string, lines, runs int, scanSeconds float64) {
	log := filepath.Join(dir, "catchup.log")
	writeLog(log, loggen.Options{Lines: lines, Seed: 1})
	// Best of runs, each with a new state file, as the scan's figure is.
	var d *daemon
	catchup := 0.0
	for i := 0; i < runs; i++ {
		if d != nil {
			d.stop()
		}
		d = startDaemon(bin, dir, fmt.Sprintf("catchup%d", i), log, "")
		start := time.Now()
		d.waitLines(lines, 10*time.Minute)
		if s := time.Since(start).Seconds(); i == 0 || s < catchup {
			catchup = s
		}
	}
	if scanSeconds > 0 {
		fmt.Printf("catch-up: %d lines in %.2f s = %.0f lines/s (%.0f%% of scan's %.0f lines/s; target >= 50%%)\n",
			lines, catchup, float64(lines)/catchup, 100*scanSeconds/catchup, float64(lines)/scanSeconds)
	} else {
		fmt.Printf("catch-up: %d lines in %.2f s = %.0f lines/s\n", lines, catchup, float64(lines)/catchup)
	}

	// Steady state: 1,000 lines/s for 20 s, CPU time of the daemon.
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		fail(err)
	}
	cpu0 := d.cpuSeconds()
	t0 := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	seed := uint64(100)
	for time.Since(t0) < 20*time.Second {
		<-tick.C
		seed++
		loggen.Write(f, loggen.Options{Lines: 100, Seed: seed, Start: time.Now()})
	}
	tick.Stop()
	f.Close()
	wall := time.Since(t0).Seconds()
	cpu := d.cpuSeconds() - cpu0
	fmt.Printf("steady state at 1,000 lines/s: %.2f%% of one core (target <= 2%%)\n", 100*cpu/wall)
	d.stop()

	// 100,000 distinct Proofpoint recipient domains.
	log2 := filepath.Join(dir, "domains.log")
	writeLog(log2, loggen.Options{Lines: lines, Seed: 2, ProofpointShare: 0.95, Domains: 100000, ProofpointDomains: 100000})
	// Alert rules evaluated every second (the shipped rules; the default is
	// every 15s), so that the peak RSS includes evaluations.
	d = startDaemon(bin, dir, "domains", log2, "alerting: {eval_interval: 1s}\n")
	d.waitLines(lines, 10*time.Minute)
	d.waitEvaluations(3)
	var times []time.Duration
	var size int
	var series int
	for i := 0; i < 20; i++ {
		t := time.Now()
		body := d.get("/metrics")
		times = append(times, time.Since(t))
		size = len(body)
		series = strings.Count(body, "\nppwatch_proofpoint_attempts_total{")
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	st, _ := os.Stat(filepath.Join(dir, "domains.db"))
	fmt.Printf("after %d lines with 100,000 Proofpoint domains and 3 alert evaluations: peak RSS %.1f MiB (target <= 128 MiB), state file %.1f MiB\n",
		lines, float64(d.peakRSSKiB())/1024, float64(st.Size())/(1<<20))
	fmt.Printf("scrape: median %v, max %v (target <= 50 ms); %d bytes, %d ppwatch_proofpoint_attempts_total series\n",
		times[len(times)/2].Round(time.Microsecond), times[len(times)-1].Round(time.Microsecond), size, series)
	d.stop()
}

func writeLog(path string, o loggen.Options) {
	f, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	if o.Start.IsZero() {
		o.Start = time.Now().Add(-2 * time.Hour)
	}
	if _, err := loggen.Write(f, o); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
}

type daemon struct {
	cmd  *exec.Cmd
	addr string
}

// startDaemon runs ppwatch on a Postfix log with the defaults and the
// config lines in extra.
func startDaemon(bin, dir, name, log, extra string) *daemon {
	return startDaemonMTA(bin, dir, name, log, "postfix", extra)
}

// startDaemonMTA is startDaemon for a log of the given MTA.
func startDaemonMTA(bin, dir, name, log, mta, extra string) *daemon {
	cfg := filepath.Join(dir, name+".yml")
	// The default flush interval (1s): the daemon also commits as soon as it
	// has read its files to the end, so the lines metric shows the end of
	// the catch-up at once.
	// A resolver on loopback that refuses at once: each new recipient
	// domain is queued for its MX as on a real host, and no query leaves
	// the machine.
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen: 127.0.0.1:0\nstate_file: %s\ndns: {servers: [\"127.0.0.1:1\"]}\n%sinputs:\n  - {path: %s, mta: %s}\n",
		filepath.Join(dir, name+".db"), extra, log, mta)), 0o644)
	argv := []string{bin, "run", "--config", cfg}
	if ts, err := exec.LookPath("taskset"); err == nil {
		argv = append([]string{ts, "-c", "0"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	d := &daemon{cmd: cmd}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["message"] == "serving metrics" {
			d.addr = m["address"].(string)
			break
		}
	}
	if d.addr == "" {
		fail(fmt.Errorf("daemon did not start"))
	}
	go io.Copy(io.Discard, stderr)
	return d
}

var linesRe = regexp.MustCompile(`(?m)^ppwatch_log_lines_total\{[^}]*\} (\S+)$`)

func (d *daemon) waitLines(n int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		total := 0.0
		for _, m := range linesRe.FindAllStringSubmatch(d.get("/metrics"), -1) {
			v, _ := strconv.ParseFloat(m[1], 64)
			total += v
		}
		if total >= float64(n) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	fail(fmt.Errorf("daemon did not read %d lines in %v", n, limit))
}

var evaluationsRe = regexp.MustCompile(`(?m)^ppwatch_alert_evaluations_total (\S+)$`)

// waitEvaluations waits for n more alert evaluations.
func (d *daemon) waitEvaluations(n float64) {
	count := func() float64 {
		m := evaluationsRe.FindStringSubmatch(d.get("/metrics"))
		if m == nil {
			fail(fmt.Errorf("no ppwatch_alert_evaluations_total"))
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	want := count() + n
	deadline := time.Now().Add(time.Minute)
	for count() < want {
		if time.Now().After(deadline) {
			fail(fmt.Errorf("no %v alert evaluations in a minute", n))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *daemon) get(path string) string {
	resp, err := http.Get("http://" + d.addr + path)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// cpuSeconds reads utime+stime of the process from /proc.
func (d *daemon) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		fail(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func (d *daemon) peakRSSKiB() int64 { return d.statusKiB("VmHWM:") }

// statusKiB reads one kB field of /proc/PID/status (0 when absent).
func (d *daemon) statusKiB(field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	return 0
}

func (d *daemon) stop() {
	d.cmd.Process.Signal(os.Interrupt)
	d.cmd.Wait()
}
