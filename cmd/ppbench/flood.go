package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ppwatch/ppwatch/pkg/loggen"
)

// floodIPs is how many sending IPs the flood comes from: enough that,
// with the default domains.stored_per_ip (5000), the flood also reaches
// domains.stored_total (20000), the most the state file keeps.
const floodIPs = 16

// benchFlood measures "ppwatch run" over n Proofpoint attempts, each to a
// recipient domain of its own (a spam run, a list-cleaning job), in a
// generated PowerMTA accounting file (one line an attempt): catch-up time
// and peak RSS, state file size, that every count is exact, /api/v1/ip and
// /metrics times, then a restart on the state file: time until /-/ready
// and peak RSS. A daemon without the domain bound gives the figures it can.
func benchFlood(bin, dir string, n int, config string) {
	var ips []string
	for i := range floodIPs {
		ips = append(ips, fmt.Sprintf("198.51.100.%d", 10+i))
	}
	log := filepath.Join(dir, "flood.csv")
	// 50 attempts a second of log time, ending just before now: a million
	// then lie in the longest window (24h), the worst case, as the load at
	// start and every alert evaluation read them all.
	start := time.Now().Add(-time.Duration(n)*(time.Second/50+time.Millisecond) - 10*time.Minute)
	writeLog(log, loggen.Options{MTA: "pmta", Lines: n + 1, Seed: 3, Start: start, Rate: 50, AttemptDelay: time.Millisecond,
		ProofpointShare: 1, DistinctDomains: true, SourceIPs: ips})
	st, _ := os.Stat(log)
	settings := "shipped defaults"
	if config != "" {
		settings = strings.TrimSpace(config)
	}
	fmt.Printf("flood: %d Proofpoint attempts to %d distinct recipient domains from %d sending IPs (PowerMTA accounting file, %.0f MB), %s\n",
		n, n, floodIPs, float64(st.Size())/1e6, settings)

	// Catch-up, with the shipped alert rules evaluated every second so that
	// the peak includes evaluations over the whole flood.
	extra := "alerting: {eval_interval: 1s}\n"
	if config != "" {
		extra += strings.TrimSpace(config) + "\n"
	}
	d := startDaemonMTA(bin, dir, "flood", log, "pmta", extra)
	t0 := time.Now()
	anon := d.sampleAnon()
	d.waitAttempts(n, 30*time.Minute)
	catchup := time.Since(t0)
	d.waitEvaluations(3)
	peak, peakAnon := d.peakRSSKiB(), anon()
	size := fileMiB(filepath.Join(dir, "flood.db"))
	fmt.Printf("catch-up: %d attempts in %.1f s = %.0f attempts/s; peak RSS %.1f MiB (target <= 128 MiB; anonymous %.1f MiB, the rest the state file's mapped pages); state file %.1f MiB (target <= 128 MiB)\n",
		n, catchup.Seconds(), float64(n)/catchup.Seconds(), kib(peak), kib(peakAnon), size)

	before := d.floodCounts(ips, n)
	d.timeRequests("/api/v1/ip", ips, 0.5)
	d.timeRequests("/metrics", nil, 0.05)
	d.stop()

	// Restart on the state file: nothing left to read.
	t0 = time.Now()
	d = startDaemonMTA(bin, dir, "flood", log, "pmta", extra)
	anon = d.sampleAnon()
	d.waitReady(time.Minute)
	ready := time.Since(t0)
	atReady := d.peakRSSKiB()
	d.waitEvaluations(3)
	fmt.Printf("restart: ready in %.2f s (target <= 10 s); peak RSS %.1f MiB when ready, %.1f MiB after 3 alert evaluations (target <= 96 MiB; anonymous %.1f MiB)\n",
		ready.Seconds(), kib(atReady), kib(d.peakRSSKiB()), kib(anon()))
	after := d.floodCounts(ips, n)
	if after != before {
		fmt.Printf("counts differ after the restart:\n before %+v\n after  %+v\n", before, after)
	} else {
		fmt.Println("counts after the restart: the same")
	}
	d.timeRequests("/api/v1/ip", ips, 0.5)
	d.stop()
}

// floodResult is what the flood's counts came to.
type floodResult struct {
	attempts, pp, metricFolded, apiFolded, stored uint64
	exact                                         string
}

// floodCounts checks the daemon's counts against the generator's n
// attempts: all of them in ppwatch_attempts_total and
// ppwatch_proofpoint_attempts_total, and for every IP the domains kept by
// name plus the attempts folded into "other" equal the IP's attempts (one
// attempt a domain), the metric agreeing with the API.
func (d *daemon) floodCounts(ips []string, n int) floodResult {
	m := parseMetrics(d.get("/metrics"))
	r := floodResult{attempts: m.sum("ppwatch_attempts_total", ""), pp: m.sum("ppwatch_proofpoint_attempts_total", ""),
		metricFolded: m.sum("ppwatch_proofpoint_domains_folded_total", "")}
	var bad []string
	if r.attempts != uint64(n) || r.pp != uint64(n) {
		bad = append(bad, fmt.Sprintf("%d attempts, %d Proofpoint, want %d", r.attempts, r.pp, n))
	}
	bounded := true
	for _, ip := range append(ips, "unknown") {
		var rep map[string]any
		if err := json.Unmarshal([]byte(d.get("/api/v1/ip/"+ip)), &rep); err != nil {
			fail(fmt.Errorf("/api/v1/ip/%s: %w", ip, err))
		}
		stored, ok1 := rep["domains_stored"].(float64)
		folded, ok2 := rep["domains_folded"].(float64)
		if !ok1 || !ok2 {
			bounded = false
			continue
		}
		r.stored += uint64(stored)
		r.apiFolded += uint64(folded)
		if got := m.sum("ppwatch_attempts_total", `source_ip="`+ip+`"`); uint64(stored+folded) != got {
			bad = append(bad, fmt.Sprintf("%s: %v domains kept + %v folded != %d attempts", ip, stored, folded, got))
		}
		if got := m.sum("ppwatch_proofpoint_domains_folded_total", `source_ip="`+ip+`"`); got != uint64(folded) {
			bad = append(bad, fmt.Sprintf("%s: metric says %d folded, API %v", ip, got, folded))
		}
	}
	switch {
	case len(bad) > 0:
		r.exact = "NOT exact: " + strings.Join(bad, "; ")
	case !bounded:
		r.exact = "exact totals (this ppwatch has no domain bound: no folded counts to check)"
	default:
		r.exact = "exact"
	}
	fmt.Printf("counts: %d attempts, %d Proofpoint; %d domains kept by name, %d attempts folded into \"other\" (metric %d): %s\n",
		r.attempts, r.pp, r.stored, r.apiFolded, r.metricFolded, r.exact)
	return r
}

// timeRequests GETs path (path/ip for each of ips and "unknown" when ips
// is set) 5 times each, or as many as fit in a minute (a daemon without
// the bound takes half a minute a request), and prints the median and the
// slowest.
func (d *daemon) timeRequests(path string, ips []string, target float64) {
	urls := []string{path}
	if ips != nil {
		urls = nil
		for _, ip := range append(ips, "unknown") {
			urls = append(urls, path+"/"+ip)
		}
	}
	var times []time.Duration
	size := 0
	start := time.Now()
rounds:
	for range 5 {
		for _, u := range urls {
			if len(times) >= 3 && time.Since(start) > time.Minute {
				break rounds
			}
			t := time.Now()
			size = len(d.get(u))
			times = append(times, time.Since(t))
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	fmt.Printf("%s: %d requests, median %v, max %v (target <= %v); last body %d bytes\n", path, len(times),
		times[len(times)/2].Round(time.Microsecond), times[len(times)-1].Round(time.Microsecond), time.Duration(target*float64(time.Second)), size)
}

var attemptsRe = regexp.MustCompile(`(?m)^ppwatch_attempts_total\{[^}]*\} (\S+)$`)

// waitAttempts waits until ppwatch_attempts_total sums to n. It polls
// every quarter second: a scrape of a daemon without the bound, over a
// million domains, is not free.
func (d *daemon) waitAttempts(n int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		total := 0.0
		for _, m := range attemptsRe.FindAllStringSubmatch(d.get("/metrics"), -1) {
			v, _ := strconv.ParseFloat(m[1], 64)
			total += v
		}
		if total >= float64(n) {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	fail(fmt.Errorf("daemon did not count %d attempts in %v", n, limit))
}

func (d *daemon) waitReady(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + d.addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	fail(fmt.Errorf("daemon not ready in %v", limit))
}

// sampleAnon samples the process's anonymous RSS every 50 ms until the
// returned function is called, which gives the largest seen in KiB.
func (d *daemon) sampleAnon() func() int64 {
	var mu sync.Mutex
	var peak int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := d.statusKiB("RssAnon:"); v > 0 {
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// metrics is an exposition's samples: name, labels text, value.
type metrics []struct {
	name, labels string
	v            float64
}

var sampleRe = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$`)

func parseMetrics(text string) metrics {
	var m metrics
	for _, l := range strings.Split(text, "\n") {
		if s := sampleRe.FindStringSubmatch(l); s != nil {
			v, _ := strconv.ParseFloat(s[3], 64)
			m = append(m, struct {
				name, labels string
				v            float64
			}{s[1], s[2], v})
		}
	}
	return m
}

// sum adds the samples of name whose labels hold label ("" for all).
func (m metrics) sum(name, label string) uint64 {
	var n float64
	for _, s := range m {
		if s.name == name && strings.Contains(s.labels, label) {
			n += s.v
		}
	}
	return uint64(n)
}

func fileMiB(path string) float64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(st.Size()) / (1 << 20)
}

func kib(n int64) float64 { return float64(n) / 1024 }
