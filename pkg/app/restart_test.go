package app

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/loggen"
)

// perProcess are the metric name prefixes that start again with each
// process or reload, as README's metrics table says; every other ppwatch_
// series is a figure of the logs and must come back unchanged.
var perProcess = []string{
	"go_", "process_", "promhttp_",
	"ppwatch_log_lines_total", "ppwatch_store_commit_duration_seconds", "ppwatch_store_size_bytes",
	"ppwatch_config_last_reload_success_timestamp_seconds",
	"ppwatch_alert_evaluations_total", "ppwatch_alert_evaluation_duration_seconds",
	"ppwatch_notifications_", "ppwatch_notification_",
	"ppwatch_web_info", // the URL, with the port the test's 127.0.0.1:0 gets
}

// figures returns the scrape's series that are figures of the logs.
func figures(t *testing.T, a *App) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(get(t, a, "/metrics"), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		skip := false
		for _, p := range perProcess {
			skip = skip || strings.HasPrefix(l, p)
		}
		if !skip {
			i := strings.LastIndexByte(l, ' ')
			out[l[:i]] = l[i+1:]
		}
	}
	return out
}

func diffFigures(before, after map[string]string) []string {
	var d []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			d = append(d, "lost: "+k+" "+v)
		} else if w != v {
			d = append(d, fmt.Sprintf("changed: %s %s -> %s", k, v, w))
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			d = append(d, "new: "+k+" "+v)
		}
	}
	sort.Strings(d)
	return d
}

// Every figure survives a restart and a reload: scraped before, after a
// restart, and after a reload, each ppwatch_ series is the same, except
// the ones documented as per-process.
func TestEveryFigureSurvivesRestartAndReload(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loggen.Write(f, loggen.Options{MTA: "postfix", Lines: 20000, Seed: 7, Start: t0, ProofpointShare: 0.5}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	now := func() time.Time { return t0.Add(20 * time.Minute) } // every window sees the log
	cfgPath := filepath.Join(dir, "ppwatch.yml")
	if err := os.WriteFile(cfgPath, reloadConfig(dir, "", "", "inputs: [{path: "+log+", mta: postfix}]\nalerting: {eval_interval: 20ms}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func() *App {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t)), Now: now,
			Load: func() (*config.Config, error) { return config.Load(cfgPath) }})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "ready", func() bool { code, _ := ready(t, a); return code == 200 })
		return a
	}
	readToEnd := func(a *App) {
		eventually(t, "the whole log read", func() bool {
			v, _ := sample(t, a, `ppwatch_input_offset_bytes{input="`+log+`"}`)
			st, _ := os.Stat(log)
			return int64(v) == st.Size()
		})
	}
	a := start()
	readToEnd(a)
	evaluations(t, a, 2)
	before := figures(t, a)
	if v, ok := before[`ppwatch_proofpoint_last_block_timestamp_seconds{source_ip="192.0.2.25"}`]; !ok {
		t.Fatalf("no last block for 192.0.2.25 (%q): the log needs blocks for this test", v)
	}
	if v := before[`ppwatch_proofpoint_messages_deferred{source_ip="192.0.2.25"}`]; v == "" || v == "0" {
		t.Fatalf("no deferred messages followed (%q): the log needs them for this test", v)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}

	a = start()
	defer a.Stop()
	readToEnd(a) // resumed at the end: the position is set once the tailer has looked
	evaluations(t, a, 2)
	if d := diffFigures(before, figures(t, a)); len(d) > 0 {
		t.Errorf("after a restart:\n%s", strings.Join(d, "\n"))
	}
	if err := a.ReloadConfig(); err != nil {
		t.Fatal(err)
	}
	readToEnd(a)
	evaluations(t, a, 2)
	if d := diffFigures(before, figures(t, a)); len(d) > 0 {
		t.Errorf("after a reload:\n%s", strings.Join(d, "\n"))
	}
}
