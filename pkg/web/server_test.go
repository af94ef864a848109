package web

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
)

type noSource struct{}

func (noSource) IPReport(string, string) (*IPReport, error) { return nil, nil }
func (noSource) Alerts() []alert.Alert                      { return nil }
func (noSource) Now() time.Time                             { return time.Now() }
func (noSource) Summary() (*Summary, error)                 { return &Summary{}, nil }
func (noSource) Inputs() []InputStatus                      { return nil }
func (noSource) Timeline(string, time.Time, time.Time, time.Duration) (*Timeline, error) {
	return &Timeline{}, nil
}

// Every --web.listen-address serves the same endpoints, the metrics at
// --web.telemetry-path; exporter-toolkit's own lines come out as
// structured entries with their attributes as fields.
func TestListenAddressesAndTelemetryPath(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ppwatch_test_gauge", Help: "A test gauge."})
	g.Set(7)
	reg.MustRegister(g)
	var logs testkit.SyncBuffer
	srv, err := Start(Options{Listen: []string{"127.0.0.1:0", "[::1]:0"}, TelemetryPath: "/prom", Gatherer: reg,
		Source: noSource{}, Ready: func() error { return nil }, Logger: zerolog.New(&logs)})
	if err != nil {
		if strings.Contains(err.Error(), "[::1]") {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	addrs := srv.Addrs()
	if len(addrs) != 2 || srv.Addr() != addrs[0] {
		t.Fatalf("addresses %v", addrs)
	}
	for _, a := range addrs {
		if code, body := testkit.Get(t, "http://"+a+"/prom"); code != 200 || !strings.Contains(body, "\nppwatch_test_gauge 7\n") {
			t.Errorf("%s/prom: %d\n%s", a, code, body)
		}
		if code, _ := testkit.Get(t, "http://"+a+"/metrics"); code != 404 {
			t.Errorf("%s/metrics: %d, want 404", a, code)
		}
		if code, body := testkit.Get(t, "http://"+a+"/"); code != 200 || !strings.Contains(body, `href="/prom"`) {
			t.Errorf("%s/: %d, the status page does not link /prom", a, code)
		}
	}
	// exporter-toolkit logs "Listening on" and "TLS is disabled." once per
	// listener.
	type entry struct {
		Level     string `json:"level"`
		Component string `json:"component"`
		Message   string `json:"message"`
		Address   string `json:"address"`
		HTTP2     *bool  `json:"http2"`
	}
	var listening, tls []string
	for _, l := range logs.Lines() {
		var e entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not a JSON entry: %s", l)
		}
		switch {
		case e.Message == "Listening on" && e.Component == "web" && e.Level == "info":
			listening = append(listening, e.Address)
		case e.Message == "TLS is disabled." && e.HTTP2 != nil && !*e.HTTP2:
			tls = append(tls, e.Address)
		case strings.Contains(e.Message, "="):
			t.Errorf("text nested in the message: %s", l)
		}
	}
	slices.Sort(listening)
	slices.Sort(tls)
	want := slices.Sorted(slices.Values(addrs))
	if !slices.Equal(listening, want) || !slices.Equal(tls, want) {
		t.Errorf("listening %v, tls %v, want %v each\n%s", listening, tls, want, strings.Join(logs.Lines(), "\n"))
	}
}
