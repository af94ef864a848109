// Command ppdemo is "make run": it copies the shipped sample logs into a
// temporary directory with their timestamps moved on so that each ends now,
// starts "ppwatch run" on them with metrics on 127.0.0.1:9797, and keeps
// appending fresh Postfix lines (a sending IP that Proofpoint is blocking)
// so counts and ratios move. Ctrl-C stops both.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ppwatch/ppwatch/pkg/cli"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/loggen"
)

// samples are the logs the scan report of "make run" reads, and the names
// of their copies.
var samples = []struct{ mta, path, copy string }{
	{"postfix", "testdata/postfix/sample.log", "mail.log"},
	{"exim", "testdata/exim/sample.log", "exim-mainlog"},
	{"pmta", "testdata/pmta/sample.log", "acct-demo.csv"},
}

func main() {
	bin := flag.String("ppwatch", "./bin/ppwatch", "ppwatch binary")
	listen := flag.String("listen", "127.0.0.1:9797", "where the demo daemon serves metrics")
	demo := flag.String("config", "testdata/demo.yml", "the demo's config, which the scan report reads too; the daemon's adds listen, state_file and inputs")
	runFor := flag.Duration("for", 0, "stop after this long and print the ratios (0: until Ctrl-C)")
	flag.Parse()
	if err := run(*bin, *listen, *demo, *runFor); err != nil {
		fmt.Fprintln(os.Stderr, "ppdemo:", err)
		os.Exit(1)
	}
}

func run(bin, listen, demo string, runFor time.Duration) error {
	demoYAML, err := os.ReadFile(demo)
	if err != nil {
		return err
	}
	demoCfg, err := config.Parse(demoYAML, demo)
	if err != nil {
		return err
	}
	loc := demoCfg.Location
	dir, err := os.MkdirTemp("", "ppwatch-demo-")
	if err != nil {
		return err
	}
	// The samples' timestamps have whole seconds: the copies end in this
	// second, not after now.
	now := time.Now().Truncate(time.Second)
	inputs := ""
	for _, s := range samples {
		if err := copyShifted(s.path, filepath.Join(dir, s.copy), s.mta, now, loc); err != nil {
			return err
		}
		inputs += fmt.Sprintf("  - {path: %s, mta: %s}\n", filepath.Join(dir, s.copy), s.mta)
	}
	cfg := filepath.Join(dir, "ppwatch.yml")
	err = os.WriteFile(cfg, fmt.Appendf(demoYAML, "\nlisten: %q\nstate_file: %s\ninputs:\n%s", listen, filepath.Join(dir, "ppwatch.db"), inputs), 0o644)
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "ppwatch.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	// The samples' domains and IPs are documentation ones: no resolver is
	// asked about them (the daemon says so once and counts as usual).
	cmd.Env = append(os.Environ(), "PPWATCH_RESOLV_CONF=/nonexistent/resolv.conf")
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	fmt.Printf(`ppwatch is running on copies of the sample logs in %s,
their timestamps moved on so that each ends now: its 24h window counts what the scan report above counts.
  metrics:   http://%s/metrics
  try:       curl -s http://%s/metrics | grep -E '^ppwatch_proofpoint_(block|deferral)_ratio'
             curl -s http://%s/metrics | grep '^ppwatch_attempts_total'
  alerts:    http://%s/alerts (pending at the first evaluation, 15s; firing after their "for": 5m for the page)
  the IPs:   http://%s/ip/192.0.2.20 (Postfix, appended to), http://%s/ip/192.0.2.10 (Exim)
             (figures, alerts, verbatim replies; JSON under /api/v1/ip/)
  its log:   %s
  config:    %s
New Postfix lines are appended to mail.log every second. Ctrl-C stops.
`, dir, listen, listen, listen, listen, listen, listen, logFile.Name(), cfg)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	seed := uint64(1)
	var deadline <-chan time.Time
	if runFor > 0 {
		deadline = time.After(runFor)
	}
	for {
		select {
		case <-deadline:
			err := printRatios(listen)
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			return err
		case <-sig:
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			fmt.Println("\nstopped; the demo files stay in", dir)
			return nil
		case err := <-exited:
			return fmt.Errorf("ppwatch exited (%v); see %s", err, logFile.Name())
		case <-tick.C:
			seed++
			if err := appendLines(filepath.Join(dir, "mail.log"), seed, loc); err != nil {
				return err
			}
		}
	}
}

// printRatios shows what the daemon counted; an error when it counted nothing.
func printRatios(listen string) error {
	resp, err := http.Get("http://" + listen + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "ppwatch_proofpoint_block_ratio{") || strings.HasPrefix(l, "ppwatch_proofpoint_deferral_ratio{") {
			fmt.Println(l)
		}
		if strings.HasPrefix(l, "ppwatch_attempts_total{") {
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no ppwatch_attempts_total series at http://%s/metrics", listen)
	}
	return nil
}

// appendLines writes a few messages with timestamps of the last seconds,
// in loc as the daemon reads them.
func appendLines(path string, seed uint64, loc *time.Location) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = loggen.Write(f, loggen.Options{Lines: 28, Seed: seed, Start: time.Now().In(loc).Add(-3 * time.Second), Rate: 20,
		ProofpointShare: 0.6, Domains: 40, SourceIPs: []string{"192.0.2.20"}})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyShifted copies the mta log src to dst with its timestamps shifted to
// end at now. The year of a year-less timestamp is the one the scan report
// gives it.
func copyShifted(src, dst, mta string, now time.Time, loc *time.Location) error {
	log, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	shifted, _, err := shift(log, mta, cli.Reference(src), now, loc)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return os.WriteFile(dst, shifted, 0o644)
}
