//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"
)

// The credentials of the daemon's web config: Prometheus, the browser and
// the test all log in with them.
const webUser, webPassword = "prometheus", "e2e-s3cret"

// ppwatch is the daemon as the unit starts it.
type ppwatch struct {
	t      *testing.T
	dir    string
	cfg    string
	addr   string
	pre    []string // ExecStartPre
	argv   []string // ExecStart
	p      *proc
	starts int
}

// unitCommands reads the unit's ExecStartPre and ExecStart lines, with
// the config path and $ARGS replaced: the daemon runs as the installed
// unit would run it, with this test's config.
func unitCommands(t *testing.T, unit, cfg string, args []string) (pre, argv []string) {
	t.Helper()
	f, err := os.Open(unit)
	if err != nil {
		t.Fatalf("the unit: %v (make e2e installs the package first)", err)
	}
	defer f.Close()
	fields := func(line string) []string {
		var out []string
		for _, w := range strings.Fields(line) {
			switch w {
			case "/etc/ppwatch/ppwatch.yml":
				out = append(out, cfg)
			case "$ARGS":
				out = append(out, args...)
			default:
				out = append(out, w)
			}
		}
		return out
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "ExecStartPre="); ok {
			pre = fields(v)
		}
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			argv = fields(v)
		}
	}
	if argv == nil {
		t.Fatalf("%s: no ExecStart", unit)
	}
	return pre, argv
}

// startPpwatch writes the web config (basic auth) and starts the daemon
// with the config at cfg, listening on a free port of 127.0.0.1.
func startPpwatch(t *testing.T, dir, cfg string) *ppwatch {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(webPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(dir, "web.yml")
	writeFile(t, web, fmt.Sprintf("basic_auth_users:\n  %s: %s\n", webUser, hash))
	d := &ppwatch{t: t, dir: dir, cfg: cfg, addr: freePort(t, "127.0.0.1")}
	d.pre, d.argv = unitCommands(t, *unit, cfg, []string{"--web.config.file", web, "--web.listen-address", d.addr})
	d.start()
	return d
}

func (d *ppwatch) start() {
	t := d.t
	t.Helper()
	if len(d.pre) > 0 {
		run(t, d.pre[0], d.pre[1:]...)
	}
	d.starts++
	d.p = start(t, d.dir, fmt.Sprintf("ppwatch-%d", d.starts), d.argv[0], d.argv[1:]...)
	// Healthy, not ready: ready waits for every input, and Exim's log
	// appears only when Exim starts, later in the play.
	eventually(t, defaultWait, "ppwatch healthy", func() string {
		if d.p.exited() {
			t.Fatalf("ppwatch exited:\n%s", tailFile(d.p.log, 30))
		}
		code, _ := d.get("/-/healthy")
		if code != http.StatusOK {
			return fmt.Sprintf("/-/healthy: %d", code)
		}
		return ""
	})
}

// kill9 kills the daemon as a crash would, and starts it again.
func (d *ppwatch) kill9() {
	d.p.kill(syscall.SIGKILL)
	d.start()
}

// reload is systemctl reload: ExecReload sends SIGHUP.
func (d *ppwatch) reload() { d.p.signal(syscall.SIGHUP) }

// get fetches path with the web config's credentials.
func (d *ppwatch) get(path string) (int, []byte) {
	req, err := http.NewRequest("GET", "http://"+d.addr+path, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	req.SetBasicAuth(webUser, webPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// series is one sample of a scrape: its labels and value.
type series struct {
	labels map[string]string
	value  float64
}

// metrics scrapes the daemon: every sample of family name.
func (d *ppwatch) metrics(name string) []series {
	d.t.Helper()
	code, b := d.get("/metrics")
	if code != http.StatusOK {
		d.t.Fatalf("/metrics: %d %s", code, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		d.t.Fatalf("/metrics: %v", err)
	}
	var out []series
	if f := fams[name]; f != nil {
		for _, m := range f.GetMetric() {
			s := series{labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.Counter != nil:
				s.value = m.Counter.GetValue()
			case m.Gauge != nil:
				s.value = m.Gauge.GetValue()
			case m.Untyped != nil:
				s.value = m.Untyped.GetValue()
			}
			out = append(out, s)
		}
	}
	return out
}
