package app

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/internal/privtest"
	"github.com/ppwatch/ppwatch/pkg/web"
)

// sample returns the value of one series ("name{labels}") in a scrape.
func sample(t *testing.T, a *App, series string) (float64, bool) {
	t.Helper()
	v := sampleText(get(t, a, "/metrics"), series)
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("%s %s: %v", series, v, err)
	}
	return f, true
}

func parsedLines(t *testing.T, a *App, input string) float64 {
	v, _ := sample(t, a, `ppwatch_log_lines_total{input="`+input+`",result="parsed"}`)
	return v
}

func waitParsed(t *testing.T, a *App, input string, n float64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%v parsed lines of %s", n, input), func() bool { return parsedLines(t, a, input) == n })
	time.Sleep(50 * time.Millisecond) // and not more
	if got := parsedLines(t, a, input); got != n {
		t.Fatalf("%s: %v parsed lines, want %v", input, got, n)
	}
}

// ready returns /-/ready's status and body.
func ready(t *testing.T, a *App) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + a.Addr() + "/-/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func appendSent(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := from; i <= to; i++ {
		fmt.Fprintf(f, sentLine+"\n", "2026-11-22T10:06:01+00:00", i%100, fmt.Sprintf("u%d@acme-corp.example", i))
	}
}

const reloadBase = `flush_interval: 20ms
source_ips: [{mta: postfix, ip: 192.0.2.25}]
`

// reloadConfig is a config reading in dir; rest may name {dir}.
func reloadConfig(dir, listen, state, rest string) []byte {
	if listen == "" {
		listen, state = "127.0.0.1:0", "{dir}/ppwatch.db"
	}
	return []byte(strings.ReplaceAll("listen: "+listen+"\nstate_file: "+state+"\n"+reloadBase+rest, "{dir}", dir))
}

// startReloadable starts an App on a config file, reloaded from that file
// as SIGHUP does, reading dir/mail.log with 4 lines.
func startReloadable(t *testing.T, dir, inputs string) (*App, string) {
	t.Helper()
	cfgPath := filepath.Join(dir, "ppwatch.yml")
	if err := os.WriteFile(cfgPath, reloadConfig(dir, "", "", inputs), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t)),
		Load: func() (*config.Config, error) { return config.Load(cfgPath) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop() })
	return a, cfgPath
}

// Every way a reload can fail leaves the running configuration reading,
// and says so: the reload metric, the error, /-/ready. A good reload
// applies, and listen/state_file changes wait for a restart.
func TestReloadPaths(t *testing.T) {
	if !privtest.Unprivileged(t) {
		return
	}
	noJournalctl := t.TempDir() // a PATH without journalctl
	cases := []struct {
		name   string
		config string // after the base; {dir} is the test's directory
		listen string // and state: "" for the running ones
		setup  func(t *testing.T, dir string)
		err    string // "" for a reload that applies
	}{
		{name: "bad YAML", config: "inputs: [{path: {dir}/mail.log\n", err: "ppwatch.yml"},
		{name: "invalid value", config: "inputs: [{path: {dir}/mail.log, mta: postfix}]\nretention: soon\n", err: `retention: invalid duration "soon"`},
		{name: "unknown MTA", config: "inputs: [{path: {dir}/mail.log, mta: sendmail}]\n", err: "sendmail"},
		{name: "no input", config: "inputs: []\n", err: ErrNoInputs.Error()},
		{name: "a path that matches nothing", config: "inputs: [{path: {dir}/mail.log, mta: postfix}, {path: {dir}/mial.log}]\n",
			err: "input {dir}/mial.log: open {dir}/mial.log: no such file or directory (check the path"},
		{name: "a glob that matches nothing", config: "inputs: [{path: {dir}/mail.log, mta: postfix}, {path: '{dir}/acct-*.csv', mta: pmta}]\n",
			err: "input {dir}/acct-*.csv: the pattern matches no file"},
		{name: "an unreadable input", config: "inputs: [{path: {dir}/mail.log, mta: postfix}, {path: {dir}/secret.log}]\n",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "secret.log"), nil, 0); err != nil {
					t.Fatal(err)
				}
			},
			err: "input {dir}/secret.log: open {dir}/secret.log: permission denied (let the user ppwatch runs as read the file"},
		{name: "a directory", config: "inputs: [{path: {dir}/mail.log, mta: postfix}, {path: {dir}}]\n",
			err: "input {dir}: {dir} is not a regular file"},
		{name: "journalctl missing", config: "inputs: [{path: {dir}/mail.log, mta: postfix}, {path: 'journald:postfix@-.service', mta: postfix}]\n",
			setup: func(t *testing.T, dir string) { t.Setenv("PATH", noJournalctl) },
			err:   `journald input: exec: "journalctl": executable file not found in $PATH`},
		{name: "listen and state_file changed", config: "inputs: [{path: {dir}/mail.log, mta: postfix}]\n", listen: "127.0.0.1:1"},
		{name: "another input", config: "inputs: [{path: {dir}/mail.log, mta: postfix}, {path: {dir}/second.log, mta: postfix}]\n",
			setup: func(t *testing.T, dir string) { appendSent(t, filepath.Join(dir, "second.log"), 1, 3) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "mail.log")
			writeLog(t, log)
			a, cfgPath := startReloadable(t, dir, fmt.Sprintf("inputs: [{path: %s, mta: postfix}]\n", log))
			addr := a.Addr()
			waitParsed(t, a, log, 4)
			if c.name == "no input" && len(config.DefaultInputs()) > 0 {
				t.Skip("this host has one of the usual logs, which a config without inputs reads")
			}
			if c.setup != nil {
				c.setup(t, dir)
			}
			state := ""
			if c.listen != "" {
				state = "{dir}/other.db"
			}
			if err := os.WriteFile(cfgPath, reloadConfig(dir, c.listen, state, c.config), 0o644); err != nil {
				t.Fatal(err)
			}
			err := a.ReloadConfig()
			want := 1.0
			if c.err == "" {
				if err != nil {
					t.Fatalf("reload: %v", err)
				}
			} else {
				want = 0
				if wantErr := strings.ReplaceAll(c.err, "{dir}", dir); err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("reload: %v, want an error with %q", err, wantErr)
				}
			}
			if v, _ := sample(t, a, "ppwatch_config_last_reload_successful"); v != want {
				t.Errorf("ppwatch_config_last_reload_successful %v, want %v", v, want)
			}
			if code, body := ready(t, a); code != http.StatusOK {
				t.Errorf("/-/ready: %d %s, want 200: the running inputs are read", code, body)
			}
			// Reading goes on: lines appended after the reload are counted once.
			appendSent(t, log, 5, 6)
			waitParsed(t, a, log, 6)
			switch c.name {
			case "listen and state_file changed":
				if a.Addr() != addr {
					t.Errorf("listening on %s, want %s until a restart", a.Addr(), addr)
				}
				if _, err := os.Stat(filepath.Join(dir, "other.db")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("other.db: %v, want it not made before a restart", err)
				}
			case "another input":
				waitParsed(t, a, filepath.Join(dir, "second.log"), 3)
			}
		})
	}
}

// Reloads while the log grows: every line counted exactly once.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	writeLog(t, log)
	a, cfgPath := startReloadable(t, dir, fmt.Sprintf("inputs: [{path: %s, mta: postfix}]\n", log))
	const lines, reloads = 20000, 20
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= lines; i += 500 {
			appendSent(t, log, i, i+499)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for i := 0; i < reloads; i++ {
		// Alternate two configurations that both read the log.
		extra := fmt.Sprintf("windows: [%dm, 1h]\n", 5+i%2)
		if err := os.WriteFile(cfgPath, reloadConfig(dir, "", "", fmt.Sprintf("inputs: [{path: %s, mta: postfix}]\n", log)+extra), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := a.ReloadConfig(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	waitParsed(t, a, log, 4+lines)
	// The figures after the reloads hold every line once too, not only
	// the line counter.
	series := `ppwatch_proofpoint_attempts_total{class="none",recipient_domain="acme-corp.example",source_ip="192.0.2.25",status="delivered"}`
	if v, _ := sample(t, a, series); v != 1+lines {
		t.Errorf("%s = %v, want %d", series, v, 1+lines)
	}
}

// An input that reads nothing is loud: /-/ready says which and why, the
// metrics count it, and all is well again once its file is there.
func TestInputMissingIsLoud(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	missing := filepath.Join(dir, "exim4", "mainlog")
	writeLog(t, log)
	a, _ := startReloadable(t, dir, fmt.Sprintf("inputs: [{path: %s, mta: postfix}, {path: %s, mta: exim}]\n", log, missing))
	waitParsed(t, a, log, 4)
	want := fmt.Sprintf("not ready: input %s reads nothing: no such file (%s)", missing, "check the path under inputs: in the config, and where the MTA writes its log")
	eventually(t, "/-/ready naming the missing input", func() bool { code, body := ready(t, a); return code == 503 && body == want })
	for series, v := range map[string]float64{
		`ppwatch_input_files{input="` + log + `"}`:                                1,
		`ppwatch_input_files{input="` + missing + `"}`:                            0,
		`ppwatch_input_errors_total{input="` + missing + `",reason="not_found"}`:  1,
		`ppwatch_input_errors_total{input="` + missing + `",reason="permission"}`: 0,
		`ppwatch_input_errors_total{input="` + log + `",reason="not_found"}`:      0,
		`ppwatch_input_errors_total{input="` + missing + `",reason="read_error"}`: 0,
	} {
		if got, ok := sample(t, a, series); !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, v)
		}
	}
	if err := os.MkdirAll(filepath.Dir(missing), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(missing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ready", func() bool { code, _ := ready(t, a); return code == 200 })
	if got, _ := sample(t, a, `ppwatch_input_files{input="`+missing+`"}`); got != 1 {
		t.Errorf("files of %s = %v, want 1", missing, got)
	}
	// A reload keeps the counts: counters never go down.
	if err := a.ReloadConfig(); err != nil {
		t.Fatal(err)
	}
	if got, _ := sample(t, a, `ppwatch_input_errors_total{input="`+missing+`",reason="not_found"}`); got != 1 {
		t.Errorf("not_found errors of %s after a reload = %v, want 1", missing, got)
	}
}

// Idle connections are closed, with or without a request sent, so that a
// client cannot hold sockets and goroutines open.
func TestIdleConnectionsClosed(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	writeLog(t, log)
	cfg, err := config.Parse(reloadConfig(dir, "", "", fmt.Sprintf("inputs: [{path: %s, mta: postfix}]\n", log)), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t)),
		HTTP: web.Limits{ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, MaxConnections: 300}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	var conns []net.Conn
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", a.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i%2 == 1 { // a request, then idle on a kept-alive connection
			fmt.Fprintf(c, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
			buf := make([]byte, 4096)
			if _, err := c.Read(buf); err != nil {
				t.Fatal(err)
			}
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	open := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		buf := make([]byte, 4096)
		for {
			_, err := c.Read(buf)
			if err == io.EOF || errors.Is(err, net.ErrClosed) || err != nil && strings.Contains(err.Error(), "reset") {
				break
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				open++
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if open != 0 {
		t.Errorf("%d of 200 idle connections still open after a second, want 0", open)
	}
}

// A journald input whose journalctl exits is loud the same way, and well
// again once journalctl runs.
func TestJournalInputHealth(t *testing.T) {
	bin := t.TempDir()
	script := filepath.Join(bin, "journalctl")
	write := func(body string) {
		tmp := script + ".new"
		if err := os.WriteFile(tmp, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, script); err != nil {
			t.Fatal(err)
		}
	}
	write(`echo "No journal files were found." >&2; exit 1`)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	writeLog(t, log)
	const input = "journald:postfix@-.service"
	a, _ := startReloadable(t, dir, fmt.Sprintf("inputs: [{path: %s, mta: postfix}, {path: '%s', mta: postfix}]\n", log, input))
	want := "not ready: input " + input + " reads nothing: exit status 1: No journal files were found. (see journalctl's error"
	eventually(t, "/-/ready naming journalctl's exit", func() bool {
		code, body := ready(t, a)
		return code == 503 && strings.HasPrefix(body, want)
	})
	if v, _ := sample(t, a, `ppwatch_input_errors_total{input="`+input+`",reason="journal_exit"}`); v != 1 {
		t.Errorf("journal_exit errors = %v, want 1 while it keeps failing", v)
	}
	write(`exec sleep 600`) // runs, and has nothing to say
	eventually(t, "ready once journalctl runs", func() bool { code, _ := ready(t, a); return code == 200 })
	if v, _ := sample(t, a, `ppwatch_input_files{input="`+input+`"}`); v != 1 {
		t.Errorf("files of %s = %v, want 1", input, v)
	}
}

// Profiles are served only when asked for.
func TestPprofOnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		dir := t.TempDir()
		log := filepath.Join(dir, "mail.log")
		writeLog(t, log)
		cfg, err := config.Parse(reloadConfig(dir, "", "", fmt.Sprintf("inputs: [{path: %s, mta: postfix}]\n", log)), "test.yml")
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t)), EnablePprof: enabled})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + a.Addr() + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		served := resp.StatusCode == 200 && strings.Contains(string(body), "goroutine")
		if served != enabled {
			t.Errorf("EnablePprof %v: /debug/pprof/ answered %s (profiles served: %v)", enabled, resp.Status, served)
		}
		a.Stop()
	}
}

// A configured state file in a directory that does not exist is refused
// (exit 2), and no directory is made for it.
func TestStateDirMustExist(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(reloadConfig(dir, "127.0.0.1:0", "{dir}/typo/ppwatch.db", "inputs: [{path: {dir}/mail.log, mta: postfix}]\n"), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	want := "test.yml:2: state_file: " + dir + "/typo/ppwatch.db: no such directory: " + dir + "/typo (create it, or leave state_file and --state out for "
	if !errors.Is(err, ErrNoStateDir) || !NeedsAdmin(err) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("New = %v, want %q…", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "typo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the directory was made: %v", err)
	}
}
