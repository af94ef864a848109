package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The flags every exporter has: repeatable --web.listen-address,
// --web.telemetry-path, --config.file, --log.format logfmt, --version;
// and ppwatch_build_info with Prometheus's labels, from the values the
// Makefile links in, which "ppwatch version" prints the same.
func TestExporterConventions(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ppwatch")
	pv := "github.com/prometheus/common/version"
	build := exec.Command("go", "build", "-o", bin, "-ldflags",
		"-X "+pv+".Version=1.2.3 -X "+pv+".Revision=0123abc -X "+pv+".Branch=release-1.2 -X "+pv+".BuildUser=ci@build -X "+pv+".BuildDate=20261202-03:04:05", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	wantVersion := `ppwatch, version 1.2.3 (branch: release-1.2, revision: 0123abc)
  build user:       ci@build
  build date:       20261202-03:04:05
  go version:       ` + runtime.Version() + `
  platform:         ` + runtime.GOOS + "/" + runtime.GOARCH + `
  tags:             unknown
`
	for _, args := range [][]string{{"version"}, {"--version"}, {"run", "--version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil || string(out) != wantVersion {
			t.Errorf("ppwatch %s: %v\n%s\nwant\n%s", strings.Join(args, " "), err, out, wantVersion)
		}
	}

	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	os.WriteFile(log, nil, 0o644)
	cfg := filepath.Join(dir, "ppwatch.yml")
	os.WriteFile(cfg, []byte("inputs: [{path: "+log+", mta: postfix}]\nstate_file: "+filepath.Join(dir, "ppwatch.db")+"\n"), 0o644)
	a1, a2 := freeAddr(t), freeAddr(t)
	startServer(t, bin, a1, "run", "--config.file", cfg, "--web.listen-address", a1, "--web.listen-address", a2,
		"--web.telemetry-path", "/prom", "--log.format", "logfmt")
	wantInfo := `ppwatch_build_info{branch="release-1.2",goarch="` + runtime.GOARCH + `",goos="` + runtime.GOOS + `",goversion="` + runtime.Version() +
		`",revision="0123abc",tags="unknown",version="1.2.3"} 1`
	for _, a := range []string{a1, a2} {
		resp, err := http.Get("http://" + a + "/prom")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "\n"+wantInfo+"\n") {
			t.Errorf("%s/prom: %d, no line %s", a, resp.StatusCode, wantInfo)
		}
	}
}

// run's help is on stdout; a bad flag or value is one line on stderr,
// exit 2.
func TestRunHelpAndBadFlags(t *testing.T) {
	cmd := exec.Command(binary, "run", "--help")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || !strings.HasPrefix(string(out), "Usage of ppwatch run:\n") || stderr.Len() != 0 ||
		!strings.Contains(string(out), "-web.listen-address address") || !strings.Contains(string(out), "alias of --config.file") {
		t.Errorf("run --help: %v, stderr %q, stdout\n%s", err, stderr.String(), out)
	}
	for args, want := range map[string]string{
		"--bogus":                           "ppwatch: run: flag provided but not defined: -bogus (see ppwatch run --help)\n",
		"--web.listen-address 999.0.0.1:80": `ppwatch: run: invalid value "999.0.0.1:80" for flag -web.listen-address: "999.0.0.1:80": "999.0.0.1" is not an IP address (see ppwatch run --help)` + "\n",
		"--listen 9797":                     `ppwatch: run: invalid value "9797" for flag -listen: "9797" has no port (give host:port, e.g. ":9797") (see ppwatch run --help)` + "\n",
		"--web.telemetry-path metrics":      `ppwatch: run: --web.telemetry-path "metrics": give a path below /, like /metrics` + "\n",
		"--log.format text":                 `ppwatch: --log.format: unknown format "text" (use json, logfmt or console)` + "\n",
	} {
		cmd := exec.Command(binary, append([]string{"run"}, strings.Fields(args)...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, _ := cmd.Output()
		if cmd.ProcessState.ExitCode() != 2 || len(out) != 0 || stderr.String() != want {
			t.Errorf("run %s: exit %d, stdout %q, stderr %q, want 2 and %q", args, cmd.ProcessState.ExitCode(), out, stderr.String(), want)
		}
	}
}
