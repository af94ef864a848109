// Command ppdemo is "make run": it copies the shipped sample logs into a
// temporary directory, starts "ppwatch run" on them with metrics on
// 127.0.0.1:9797, and keeps appending fresh Postfix lines (a sending IP that
// Proofpoint is blocking) so counts and ratios move. Ctrl-C stops both.
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

	"github.com/ppwatch/ppwatch/pkg/loggen"
)

func main() {
	bin := flag.String("ppwatch", "./bin/ppwatch", "ppwatch binary")
	listen := flag.String("listen", "127.0.0.1:9797", "where the demo daemon serves metrics")
	runFor := flag.Duration("for", 0, "stop after this long and print the ratios (0: until Ctrl-C)")
	flag.Parse()
	if err := run(*bin, *listen, *runFor); err != nil {
		fmt.Fprintln(os.Stderr, "ppdemo:", err)
		os.Exit(1)
	}
}

func run(bin, listen string, runFor time.Duration) error {
	dir, err := os.MkdirTemp("", "ppwatch-demo-")
	if err != nil {
		return err
	}
	files := map[string]string{
		"testdata/postfix/sample.log": "mail.log",
		"testdata/exim/sample.log":    "exim-mainlog",
		"testdata/pmta/sample.log":    "acct-2026-11-22.csv",
	}
	for src, dst := range files {
		if err := copyFile(src, filepath.Join(dir, dst)); err != nil {
			return err
		}
	}
	cfg := filepath.Join(dir, "ppwatch.yml")
	err = os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: %q
state_file: %s
inputs:
  - {path: %s, mta: postfix}
  - {path: %s, mta: exim}
  - {path: %s, mta: pmta}
source_ips:
  - {mta: postfix, ip: 192.0.2.20}
`, listen, filepath.Join(dir, "ppwatch.db"), filepath.Join(dir, "mail.log"), filepath.Join(dir, "exim-mainlog"),
		filepath.Join(dir, "acct-*.csv"))), 0o644)
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "ppwatch.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	fmt.Printf(`ppwatch is running on the sample logs, copied to %s
  metrics:   http://%s/metrics
  try:       curl -s http://%s/metrics | grep -E '^ppwatch_proofpoint_(block|deferral)_ratio'
             curl -s http://%s/metrics | grep '^ppwatch_attempts_total'
  alerts:    http://%s/alerts (pending at once, firing after their "for": 5m for the page)
  the IP:    http://%s/ip/192.0.2.20 (figures, alerts, verbatim replies; JSON under /api/v1/ip/)
  its log:   %s
  config:    %s
New Postfix lines are appended to mail.log every second. Ctrl-C stops.
`, dir, listen, listen, listen, listen, listen, logFile.Name(), cfg)

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
			if err := appendLines(filepath.Join(dir, "mail.log"), seed); err != nil {
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

// appendLines writes a few messages with timestamps of the last seconds.
func appendLines(path string, seed uint64) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = loggen.Write(f, loggen.Options{Lines: 28, Seed: seed, Start: time.Now().Add(-3 * time.Second), Rate: 20,
		ProofpointShare: 0.6, Domains: 40, SourceIPs: []string{"192.0.2.20"}})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
