package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/version"
)

const deadline = 10 * time.Second

// request is what the receiver saw of one POST.
type request struct {
	method, path string
	header       http.Header
	body         string
	tls          *tls.ConnectionState
}

// receiver is a real HTTP server standing in for Alertmanager or a webhook.
// Every request is reported on reqs; it is answered with the next code from
// codes (200 once they run out), and only after gate is open.
type receiver struct {
	srv   *httptest.Server
	reqs  chan request
	mu    sync.Mutex
	codes []int
	gate  chan struct{}
	once  sync.Once
}

type receiverOpts struct {
	codes   []int
	blocked bool        // hold every request until release
	tls     *tls.Config // serve TLS with this config (nil: plain HTTP)
}

func newReceiver(t *testing.T, o receiverOpts) *receiver {
	t.Helper()
	rc := &receiver{reqs: make(chan request, 1000), codes: o.codes, gate: make(chan struct{})}
	if !o.blocked {
		rc.release()
	}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	if o.tls != nil {
		// Handshakes the client refuses are expected in some tests.
		rc.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		rc.srv.TLS = o.tls
		rc.srv.StartTLS()
	} else {
		rc.srv.Start()
	}
	t.Cleanup(func() {
		rc.release()
		rc.srv.Close()
	})
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.reqs <- request{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: string(body), tls: r.TLS}
	select {
	case <-rc.gate:
	case <-r.Context().Done():
		return
	}
	code := http.StatusOK
	rc.mu.Lock()
	if len(rc.codes) > 0 {
		code, rc.codes = rc.codes[0], rc.codes[1:]
	}
	rc.mu.Unlock()
	w.WriteHeader(code)
	if code != http.StatusOK {
		fmt.Fprintf(w, "answer %d", code)
	}
}

func (rc *receiver) release() { rc.once.Do(func() { close(rc.gate) }) }

// next waits for the next request.
func (rc *receiver) next(t *testing.T) request {
	t.Helper()
	select {
	case r := <-rc.reqs:
		return r
	case <-time.After(deadline):
		t.Fatal("no request arrived")
		return request{}
	}
}

// start makes and starts a Notifier with a short retry schedule; it is
// stopped when the test ends (after receivers release, before they close).
func start(t *testing.T, reg prometheus.Registerer, queueSize int, targets ...Target) *Notifier {
	t.Helper()
	n, err := New(Options{Targets: targets, QueueSize: queueSize, Logger: zerolog.New(zerolog.NewTestWriter(t)), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	n.initialBackoff = time.Millisecond
	n.maxBackoff = 4 * time.Millisecond
	n.Start()
	t.Cleanup(n.Stop)
	return n
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func counterIs(c prometheus.Collector, want float64) func() bool {
	return func() bool { return testutil.ToFloat64(c) == want }
}

func metricsOf(n *Notifier, i int) (delivered, failed, dropped prometheus.Counter) {
	s := n.senders[i]
	return s.delivered, s.failed, s.dropped
}

var (
	t0 = time.Date(2025, 3, 1, 10, 0, 0, 250_000_000, time.UTC)

	firing = Alert{
		Labels: map[string]string{"alertname": "ProofpointBlockRatioHigh", "severity": "page", "source_ip": "192.0.2.10"},
		Annotations: map[string]string{
			"summary":     "Proofpoint blocks 12.5% of mail from 192.0.2.10",
			"runbook_url": "https://github.com/ppwatch/ppwatch/blob/main/docs/runbook.md#proofpointblockratiohigh",
		},
		StartsAt:     t0,
		EndsAt:       t0.Add(4 * time.Minute),
		GeneratorURL: "http://mta1.example.net:9797/ip/192.0.2.10",
	}
	firingJSON = `{"labels":{"alertname":"ProofpointBlockRatioHigh","severity":"page","source_ip":"192.0.2.10"},` +
		`"annotations":{"runbook_url":"https://github.com/ppwatch/ppwatch/blob/main/docs/runbook.md#proofpointblockratiohigh","summary":"Proofpoint blocks 12.5% of mail from 192.0.2.10"},` +
		`"startsAt":"2025-03-01T10:00:00.25Z","endsAt":"2025-03-01T10:04:00.25Z","generatorURL":"http://mta1.example.net:9797/ip/192.0.2.10"}`
)

// alertN is a distinct alert per i.
func alertN(i int) Alert {
	return Alert{
		Labels:   map[string]string{"alertname": "ProofpointDomainBlocked", "severity": "warning", "recipient_domain": fmt.Sprintf("d%d.example", i)},
		StartsAt: t0,
		EndsAt:   t0.Add(4 * time.Minute),
	}
}

func alertNJSON(i int) string {
	return fmt.Sprintf(`{"labels":{"alertname":"ProofpointDomainBlocked","recipient_domain":"d%d.example","severity":"warning"},`+
		`"startsAt":"2025-03-01T10:00:00.25Z","endsAt":"2025-03-01T10:04:00.25Z"}`, i)
}

func TestAlertmanagerPayload(t *testing.T) {
	ver, _, _ := version.Info()
	for _, tc := range []struct{ base, path string }{
		{"", "/api/v2/alerts"},
		{"/", "/api/v2/alerts"},
		{"/alertmanager", "/alertmanager/api/v2/alerts"},
		{"/alertmanager/", "/alertmanager/api/v2/alerts"},
	} {
		t.Run("base "+tc.base, func(t *testing.T) {
			rc := newReceiver(t, receiverOpts{})
			n := start(t, nil, 0, Target{Kind: Alertmanager, URL: rc.srv.URL + tc.base})
			n.Send([]Alert{firing})
			r := rc.next(t)
			if r.method != http.MethodPost || r.path != tc.path {
				t.Errorf("got %s %s, want POST %s", r.method, r.path, tc.path)
			}
			if want := "[" + firingJSON + "]"; r.body != want {
				t.Errorf("body\n got %s\nwant %s", r.body, want)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if got, want := r.header.Get("User-Agent"), "ppwatch/"+ver; got != want {
				t.Errorf("User-Agent %q, want %q", got, want)
			}
			if got := r.header.Get("Authorization"); got != "" {
				t.Errorf("Authorization %q without auth configured", got)
			}
			delivered, _, _ := metricsOf(n, 0)
			eventually(t, "delivered count 1", counterIs(delivered, 1))
		})
	}
}

func TestSendCopiesAlerts(t *testing.T) {
	rc := newReceiver(t, receiverOpts{})
	n := start(t, nil, 0, Target{Kind: Alertmanager, URL: rc.srv.URL})
	a := alertN(1)
	n.Send([]Alert{a})
	// The caller may reuse its maps at once.
	a.Labels["recipient_domain"] = "changed.example"
	if r := rc.next(t); r.body != "["+alertNJSON(1)+"]" {
		t.Errorf("body %s", r.body)
	}
}

func TestResolvedSentOnce(t *testing.T) {
	rc := newReceiver(t, receiverOpts{})
	n := start(t, nil, 0, Target{Kind: Alertmanager, URL: rc.srv.URL})
	resolved := firing
	resolved.EndsAt = t0.Add(7 * time.Minute)
	n.Send([]Alert{resolved})
	want := `[` + strings.Replace(firingJSON, `"endsAt":"2025-03-01T10:04:00.25Z"`, `"endsAt":"2025-03-01T10:07:00.25Z"`, 1) + `]`
	if r := rc.next(t); r.body != want {
		t.Errorf("body\n got %s\nwant %s", r.body, want)
	}
	// A marker sent afterwards must be the very next request: no copy of
	// the resolved alert came in between.
	n.Send([]Alert{alertN(1)})
	if r := rc.next(t); r.body != "["+alertNJSON(1)+"]" {
		t.Errorf("second request %s, want only the marker", r.body)
	}
	delivered, failed, dropped := metricsOf(n, 0)
	eventually(t, "delivered count 2", counterIs(delivered, 2))
	if f, d := testutil.ToFloat64(failed), testutil.ToFloat64(dropped); f != 0 || d != 0 {
		t.Errorf("failed %v dropped %v, want 0 0", f, d)
	}
}

func TestRetry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codes []int
	}{
		{"503 twice", []int{503, 503}},
		{"429 then 500", []int{429, 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, receiverOpts{codes: tc.codes})
			reg := prometheus.NewPedanticRegistry()
			n := start(t, reg, 0, Target{Kind: Alertmanager, URL: rc.srv.URL})
			n.Send([]Alert{firing})
			for i := range 3 {
				if r := rc.next(t); r.body != "["+firingJSON+"]" {
					t.Fatalf("attempt %d: body %s", i+1, r.body)
				}
			}
			delivered, _, _ := metricsOf(n, 0)
			eventually(t, "delivered count 1", counterIs(delivered, 1))
			target := rc.srv.URL
			want := fmt.Sprintf(`
# HELP ppwatch_notification_queue_length Alerts queued for the target.
# TYPE ppwatch_notification_queue_length gauge
ppwatch_notification_queue_length{target="%[1]s"} 0
# HELP ppwatch_notifications_dropped_total Alerts given up for the target: queue full, rejected by the target, or left at shutdown.
# TYPE ppwatch_notifications_dropped_total counter
ppwatch_notifications_dropped_total{target="%[1]s"} 0
# HELP ppwatch_notifications_failed_total Alerts in requests to the target that failed, counted per attempt.
# TYPE ppwatch_notifications_failed_total counter
ppwatch_notifications_failed_total{target="%[1]s"} 2
# HELP ppwatch_notifications_total Alerts delivered to the target.
# TYPE ppwatch_notifications_total counter
ppwatch_notifications_total{target="%[1]s"} 1
`, target)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
				"ppwatch_notifications_total", "ppwatch_notifications_failed_total",
				"ppwatch_notifications_dropped_total", "ppwatch_notification_queue_length"); err != nil {
				t.Error(err)
			}
			if got := latencyCount(t, reg); got != 3 {
				t.Errorf("latency observations %d, want 3 (one per request)", got)
			}
		})
	}
}

func latencyCount(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "ppwatch_notification_latency_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no ppwatch_notification_latency_seconds")
	return 0
}

func TestRejectedBatchDropped(t *testing.T) {
	rc := newReceiver(t, receiverOpts{codes: []int{400}})
	n := start(t, nil, 0, Target{Kind: Alertmanager, URL: rc.srv.URL})
	delivered, failed, dropped := metricsOf(n, 0)
	n.Send([]Alert{firing})
	rc.next(t)
	eventually(t, "dropped count 1", counterIs(dropped, 1))
	if f := testutil.ToFloat64(failed); f != 1 {
		t.Errorf("failed %v, want 1", f)
	}
	n.Send([]Alert{alertN(1)})
	if r := rc.next(t); r.body != "["+alertNJSON(1)+"]" {
		t.Errorf("next request %s, want only the new alert (no retry of the rejected one)", r.body)
	}
	eventually(t, "delivered count 1", counterIs(delivered, 1))
	if f, d := testutil.ToFloat64(failed), testutil.ToFloat64(dropped); f != 1 || d != 1 {
		t.Errorf("failed %v dropped %v, want 1 1", f, d)
	}
}

func TestUnreachableRetriedUntilStop(t *testing.T) {
	// A port that was just free: connections are refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	n := start(t, nil, 0, Target{Kind: Alertmanager, URL: "http://" + addr})
	delivered, failed, dropped := metricsOf(n, 0)
	n.Send([]Alert{firing, alertN(1)})
	eventually(t, "three failed attempts", func() bool { return testutil.ToFloat64(failed) >= 6 })
	n.Stop()
	if d, v := testutil.ToFloat64(dropped), testutil.ToFloat64(delivered); d != 2 || v != 0 {
		t.Errorf("after Stop: dropped %v delivered %v, want 2 0", d, v)
	}
	if f := testutil.ToFloat64(failed); int(f)%2 != 0 {
		t.Errorf("failed %v is not a whole number of 2-alert attempts", f)
	}
}

func TestQueueOverflow(t *testing.T) {
	rc := newReceiver(t, receiverOpts{blocked: true})
	n := start(t, nil, 3, Target{Kind: Alertmanager, URL: rc.srv.URL})
	t.Cleanup(rc.release)
	delivered, _, dropped := metricsOf(n, 0)
	n.Send([]Alert{alertN(0)})
	rc.next(t) // in flight, held by the receiver
	for i := 1; i <= 5; i++ {
		n.Send([]Alert{alertN(i)})
	}
	if d := testutil.ToFloat64(dropped); d != 2 {
		t.Errorf("dropped %v, want 2", d)
	}
	if l := testutil.ToFloat64(n.senders[0].q.length); l != 3 {
		t.Errorf("queue length %v, want 3", l)
	}
	rc.release()
	want := "[" + alertNJSON(3) + "," + alertNJSON(4) + "," + alertNJSON(5) + "]"
	if r := rc.next(t); r.body != want {
		t.Errorf("after the overflow\n got %s\nwant %s (the newest three)", r.body, want)
	}
	eventually(t, "delivered count 4", counterIs(delivered, 4))
}

func TestQueuedCopyReplaced(t *testing.T) {
	rc := newReceiver(t, receiverOpts{blocked: true})
	n := start(t, nil, 0, Target{Kind: Alertmanager, URL: rc.srv.URL})
	t.Cleanup(rc.release)
	n.Send([]Alert{alertN(0)})
	rc.next(t)
	older := firing
	older.EndsAt = t0.Add(time.Minute)
	n.Send([]Alert{older, alertN(1)})
	n.Send([]Alert{firing})
	if l := testutil.ToFloat64(n.senders[0].q.length); l != 2 {
		t.Errorf("queue length %v, want 2", l)
	}
	rc.release()
	// The newer copy takes the older one's place in the queue.
	want := "[" + firingJSON + "," + alertNJSON(1) + "]"
	if r := rc.next(t); r.body != want {
		t.Errorf("got %s\nwant %s", r.body, want)
	}
}

func TestBatchesOf64(t *testing.T) {
	rc := newReceiver(t, receiverOpts{blocked: true})
	n := start(t, nil, 0, Target{Kind: Alertmanager, URL: rc.srv.URL})
	t.Cleanup(rc.release)
	n.Send([]Alert{alertN(-1)})
	rc.next(t)
	batch := make([]Alert, 100)
	for i := range batch {
		batch[i] = alertN(i)
	}
	n.Send(batch)
	rc.release()
	for _, want := range []int{64, 36} {
		var got []Alert
		if err := json.Unmarshal([]byte(rc.next(t).body), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("batch of %d, want %d", len(got), want)
		}
	}
}

func TestSendNeverBlocks(t *testing.T) {
	rc := newReceiver(t, receiverOpts{blocked: true})
	n := start(t, nil, 100, Target{Kind: Alertmanager, URL: rc.srv.URL, Timeout: time.Hour})
	t.Cleanup(rc.release)
	_, _, dropped := metricsOf(n, 0)
	n.Send([]Alert{alertN(-1)})
	rc.next(t) // the target now hangs
	done := make(chan struct{})
	go func() {
		for i := range 10000 {
			n.Send([]Alert{alertN(i)})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(deadline):
		t.Fatal("Send blocked while the target hangs")
	}
	if d := testutil.ToFloat64(dropped); d != 10000-100 {
		t.Errorf("dropped %v, want %d", d, 10000-100)
	}
}

func TestBasicAuth(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, receiverOpts{})
	n := start(t, nil, 0,
		Target{Kind: Alertmanager, URL: rc.srv.URL + "/inline", BasicAuth: &BasicAuth{Username: "ppwatch", Password: "s3cret"}},
		Target{Kind: Alertmanager, URL: rc.srv.URL + "/file", BasicAuth: &BasicAuth{Username: "ppwatch", PasswordFile: pwFile}},
	)
	n.Send([]Alert{firing})
	got := map[string]string{}
	for range 2 {
		r := rc.next(t)
		got[r.path] = r.header.Get("Authorization")
	}
	// Rotated in place: the next request carries the new password.
	if err := os.WriteFile(pwFile, []byte("second\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.Send([]Alert{alertN(1)})
	for range 2 {
		r := rc.next(t)
		got[r.path+" after rotation"] = r.header.Get("Authorization")
	}
	want := map[string]string{
		"/inline/api/v2/alerts":                "Basic " + b64("ppwatch:s3cret"),
		"/file/api/v2/alerts":                  "Basic " + b64("ppwatch:first"),
		"/inline/api/v2/alerts after rotation": "Basic " + b64("ppwatch:s3cret"),
		"/file/api/v2/alerts after rotation":   "Basic " + b64("ppwatch:second"),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: Authorization %q, want %q", k, got[k], w)
		}
	}
}

func b64(s string) string {
	r := &http.Request{Header: http.Header{}}
	u, p, _ := strings.Cut(s, ":")
	r.SetBasicAuth(u, p)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestBearerToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, receiverOpts{})
	n := start(t, nil, 0,
		Target{Kind: Alertmanager, URL: rc.srv.URL + "/inline", BearerToken: "tok-inline"},
		Target{Kind: Webhook, URL: rc.srv.URL + "/file", BearerTokenFile: tokenFile},
	)
	n.Send([]Alert{firing})
	got := map[string]string{}
	for range 2 {
		r := rc.next(t)
		got[r.path] = r.header.Get("Authorization")
	}
	want := map[string]string{"/inline/api/v2/alerts": "Bearer tok-inline", "/file": "Bearer tok-from-file"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: Authorization %q, want %q", k, got[k], w)
		}
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	clientCert, clientKey := writeClientCert(t, dir)
	rc := newReceiver(t, receiverOpts{tls: &tls.Config{ClientAuth: tls.RequireAnyClientCert}})
	caFile := filepath.Join(dir, "ca.pem")
	writePEM(t, caFile, "CERTIFICATE", rc.srv.Certificate().Raw)
	// httptest's certificate is for 127.0.0.1 and example.com.
	n := start(t, nil, 0, Target{Kind: Alertmanager, URL: rc.srv.URL, TLS: TLS{
		CAFile: caFile, CertFile: clientCert, KeyFile: clientKey, ServerName: "example.com",
	}})
	n.Send([]Alert{firing})
	r := rc.next(t)
	if r.tls == nil || r.tls.ServerName != "example.com" {
		t.Fatalf("TLS state %+v, want SNI example.com", r.tls)
	}
	if len(r.tls.PeerCertificates) != 1 || r.tls.PeerCertificates[0].Subject.CommonName != "ppwatch client" {
		t.Errorf("client certificates %v, want the ppwatch client one", r.tls.PeerCertificates)
	}
	if r.body != "["+firingJSON+"]" {
		t.Errorf("body %s", r.body)
	}
	delivered, _, _ := metricsOf(n, 0)
	eventually(t, "delivered count 1", counterIs(delivered, 1))
}

func TestTLSUnknownAuthorityRetried(t *testing.T) {
	rc := newReceiver(t, receiverOpts{tls: &tls.Config{}})
	n := start(t, nil, 0, Target{Kind: Alertmanager, URL: rc.srv.URL})
	_, failed, _ := metricsOf(n, 0)
	n.Send([]Alert{firing})
	eventually(t, "a failed attempt", func() bool { return testutil.ToFloat64(failed) >= 1 })
	select {
	case r := <-rc.reqs:
		t.Errorf("request %s reached a server with an unknown certificate", r.path)
	default:
	}
}

func writeClientCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ppwatch client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The webhook gets Alertmanager's webhook payload, version 4, one alert
// per request: each request is one group, as Alertmanager sends it with
// group_by: ['...'], so a receiver that keys on groupKey or groupLabels
// tells the alerts apart.
func TestWebhookPayload(t *testing.T) {
	rc := newReceiver(t, receiverOpts{})
	n, err := New(Options{Targets: []Target{{Kind: Webhook, URL: rc.srv.URL + "/hooks/ppwatch?team=mail"}}, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	// The clock sits between the two alerts' ends.
	n.now = func() time.Time { return t0.Add(2 * time.Minute) }
	n.SetExternalURL("https://mta1.example.net:9797")
	n.Start()
	t.Cleanup(n.Stop)

	resolved := alertN(1)
	resolved.EndsAt = t0.Add(2 * time.Minute) // not after now: resolved
	n.Send([]Alert{firing, resolved})
	r := rc.next(t)
	if r.path != "/hooks/ppwatch" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("got %s with Content-Type %q", r.path, r.header.Get("Content-Type"))
	}
	labels := `{"alertname":"ProofpointBlockRatioHigh","severity":"page","source_ip":"192.0.2.10"}`
	annotations := `{"runbook_url":"https://github.com/ppwatch/ppwatch/blob/main/docs/runbook.md#proofpointblockratiohigh","summary":"Proofpoint blocks 12.5% of mail from 192.0.2.10"}`
	want := `{"receiver":"ppwatch","status":"firing","alerts":[{"status":"firing","labels":` + labels + `,"annotations":` + annotations + `,` +
		`"startsAt":"2025-03-01T10:00:00.25Z","endsAt":"2025-03-01T10:04:00.25Z","generatorURL":"http://mta1.example.net:9797/ip/192.0.2.10","fingerprint":"d054e5846b4e37fa"}],` +
		`"groupLabels":` + labels + `,"commonLabels":` + labels + `,"commonAnnotations":` + annotations + `,` +
		`"externalURL":"https://mta1.example.net:9797","version":"4",` +
		`"groupKey":"{}:{alertname=\"ProofpointBlockRatioHigh\", severity=\"page\", source_ip=\"192.0.2.10\"}","truncatedAlerts":0}`
	if r.body != want {
		t.Errorf("firing\n got %s\nwant %s", r.body, want)
	}

	// An alert without annotations or generator URL has them empty, as
	// from Alertmanager; the request's status is the alert's.
	labels = `{"alertname":"ProofpointDomainBlocked","recipient_domain":"d1.example","severity":"warning"}`
	want = `{"receiver":"ppwatch","status":"resolved","alerts":[{"status":"resolved","labels":` + labels + `,"annotations":{},` +
		`"startsAt":"2025-03-01T10:00:00.25Z","endsAt":"2025-03-01T10:02:00.25Z","generatorURL":"","fingerprint":"c1f896668ab3a21e"}],` +
		`"groupLabels":` + labels + `,"commonLabels":` + labels + `,"commonAnnotations":{},` +
		`"externalURL":"https://mta1.example.net:9797","version":"4",` +
		`"groupKey":"{}:{alertname=\"ProofpointDomainBlocked\", recipient_domain=\"d1.example\", severity=\"warning\"}","truncatedAlerts":0}`
	if r := rc.next(t); r.body != want {
		t.Errorf("resolved\n got %s\nwant %s", r.body, want)
	}
}

// Version 1's contract holds in version 4: the fields it had, with their
// meaning (doc.go).
func TestWebhookPayloadKeepsVersion1Fields(t *testing.T) {
	rc := newReceiver(t, receiverOpts{})
	n, err := New(Options{Targets: []Target{{Kind: Webhook, URL: rc.srv.URL}}, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	n.now = func() time.Time { return t0 }
	n.Start()
	t.Cleanup(n.Stop)
	n.Send([]Alert{firing})
	var msg struct {
		Version string `json:"version"`
		Status  string `json:"status"`
		Alerts  []struct {
			Status string `json:"status"`
			Alert
		} `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(rc.next(t).body), &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Version != "4" || msg.Status != "firing" || len(msg.Alerts) != 1 || msg.Alerts[0].Status != "firing" {
		t.Fatalf("%+v", msg)
	}
	got := msg.Alerts[0].Alert
	if !got.StartsAt.Equal(firing.StartsAt) || !got.EndsAt.Equal(firing.EndsAt) || got.GeneratorURL != firing.GeneratorURL ||
		!maps.Equal(got.Labels, firing.Labels) || !maps.Equal(got.Annotations, firing.Annotations) {
		t.Errorf("got %+v\nwant %+v", got, firing)
	}
}

func TestStop(t *testing.T) {
	rc := newReceiver(t, receiverOpts{blocked: true})
	t.Cleanup(rc.release)
	n, err := New(Options{Targets: []Target{
		{Kind: Alertmanager, URL: rc.srv.URL, Timeout: 200 * time.Millisecond},
		{Kind: Webhook, URL: rc.srv.URL + "/hook", Timeout: 200 * time.Millisecond},
	}, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	n.Start()
	eventually(t, "two delivery goroutines", func() bool { return runGoroutines() == 2 })
	n.Send([]Alert{firing, alertN(1)})
	rc.next(t) // both targets now hang
	rc.next(t)
	n.Send([]Alert{alertN(2)})

	begin := time.Now()
	stopped := make(chan struct{})
	go func() {
		n.Stop()
		n.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(deadline):
		t.Fatal("Stop did not return")
	}
	// At most one request timeout, not the 10s default nor a retry.
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Stop took %s", d)
	}
	if g := runGoroutines(); g != 0 {
		t.Errorf("%d delivery goroutines left after Stop", g)
	}
	for i := range n.senders {
		delivered, _, dropped := metricsOf(n, i)
		if v, d := testutil.ToFloat64(delivered), testutil.ToFloat64(dropped); v != 0 || d != 3 {
			t.Errorf("%s: delivered %v dropped %v, want 0 3 (the in-flight batch and the queued alert)", n.senders[i].name, v, d)
		}
		if l := testutil.ToFloat64(n.senders[i].q.length); l != 0 {
			t.Errorf("%s: queue length %v after Stop", n.senders[i].name, l)
		}
	}

	// Stop on a Notifier never started returns too, dropping its queue.
	idle, err := New(Options{Targets: []Target{{Kind: Alertmanager, URL: rc.srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	idle.Send([]Alert{firing})
	idle.Stop()
	idle.Stop()
	if _, _, d := metricsOf(idle, 0); testutil.ToFloat64(d) != 1 {
		t.Errorf("never started: dropped %v, want 1", testutil.ToFloat64(d))
	}
	idle.Send([]Alert{firing, alertN(1)})
	if _, _, d := metricsOf(idle, 0); testutil.ToFloat64(d) != 3 {
		t.Errorf("sent after Stop: dropped %v, want 3", testutil.ToFloat64(d))
	}
	if l := testutil.ToFloat64(idle.senders[0].q.length); l != 0 {
		t.Errorf("sent after Stop: queue length %v, want 0", l)
	}
}

// runGoroutines counts the delivery goroutines of every Notifier.
func runGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "notify.(*sender).run(")
}

func TestNewRejectsBadTargets(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	am := func(f func(*Target)) Target {
		tg := Target{Kind: Alertmanager, URL: "http://am.example.net:9093"}
		f(&tg)
		return tg
	}
	for _, tc := range []struct {
		name    string
		targets []Target
		want    string
	}{
		{"kind", []Target{{URL: "http://am.example.net:9093"}},
			`notify: target "http://am.example.net:9093": kind "" is neither "alertmanager" nor "webhook"`},
		{"scheme", []Target{{Kind: Webhook, URL: "ftp://hooks.example.net/x"}},
			`notify: target "ftp://hooks.example.net/x": url: want http:// or https:// and a host`},
		{"no host", []Target{{Kind: Webhook, URL: "/api"}},
			`notify: target "/api": url: want http:// or https:// and a host`},
		{"unparsable, password not echoed", []Target{{Kind: Webhook, URL: "http://u:s3cret@host:bad/"}},
			`notify: target "(unparsable url)": url: parse "http://u:s3cret@host:bad/": invalid port ":bad" after host`},
		{"user info redacted", []Target{{Kind: "x", URL: "http://u:s3cret@am.example.net/"}},
			`notify: target "http://am.example.net/": kind "x" is neither "alertmanager" nor "webhook"`},
		{"timeout", []Target{am(func(t *Target) { t.Timeout = -time.Second })},
			`notify: target "http://am.example.net:9093": timeout -1s is negative`},
		{"two tokens", []Target{am(func(t *Target) { t.BearerToken, t.BearerTokenFile = "a", "b" })},
			`notify: target "http://am.example.net:9093": bearer_token and bearer_token_file are both set`},
		{"basic and bearer", []Target{am(func(t *Target) { t.BearerToken, t.BasicAuth = "a", &BasicAuth{Username: "u"} })},
			`notify: target "http://am.example.net:9093": basic_auth and a bearer token are both set`},
		{"token file", []Target{am(func(t *Target) { t.BearerTokenFile = missing })},
			`notify: target "http://am.example.net:9093": bearer_token_file: open ` + missing + `: no such file or directory`},
		{"no username", []Target{am(func(t *Target) { t.BasicAuth = &BasicAuth{Password: "p"} })},
			`notify: target "http://am.example.net:9093": basic_auth: username is empty`},
		{"two passwords", []Target{am(func(t *Target) { t.BasicAuth = &BasicAuth{Username: "u", Password: "p", PasswordFile: "f"} })},
			`notify: target "http://am.example.net:9093": basic_auth: password and password_file are both set`},
		{"password file", []Target{am(func(t *Target) { t.BasicAuth = &BasicAuth{Username: "u", PasswordFile: missing} })},
			`notify: target "http://am.example.net:9093": basic_auth: password_file: open ` + missing + `: no such file or directory`},
		{"ca file", []Target{am(func(t *Target) { t.TLS.CAFile = missing })},
			`notify: target "http://am.example.net:9093": tls_config: ca_file: open ` + missing + `: no such file or directory`},
		{"ca not pem", []Target{am(func(t *Target) { t.TLS.CAFile = notPEM })},
			`notify: target "http://am.example.net:9093": tls_config: ca_file ` + notPEM + `: no PEM certificate in it`},
		{"cert without key", []Target{am(func(t *Target) { t.TLS.CertFile = notPEM })},
			`notify: target "http://am.example.net:9093": tls_config: cert_file and key_file must be set together`},
		{"bad key pair", []Target{am(func(t *Target) { t.TLS.CertFile, t.TLS.KeyFile = notPEM, notPEM })},
			`notify: target "http://am.example.net:9093": tls_config: tls: failed to find any PEM data in certificate input`},
		{"twice", []Target{am(func(*Target) {}), am(func(*Target) {})},
			`notify: target "http://am.example.net:9093": listed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Targets: tc.targets})
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
	if _, err := New(Options{QueueSize: -1}); err == nil || err.Error() != "notify: queue size -1 is negative" {
		t.Errorf("negative queue size: %v", err)
	}
}

func TestMetricsLintAndReregister(t *testing.T) {
	rc := newReceiver(t, receiverOpts{codes: []int{503}})
	reg := prometheus.NewPedanticRegistry()
	n := start(t, reg, 0, Target{Kind: Alertmanager, URL: rc.srv.URL}, Target{Kind: Webhook, URL: rc.srv.URL + "/hook"})
	n.Send([]Alert{firing})
	eventually(t, "both delivered", func() bool {
		return testutil.ToFloat64(n.senders[0].delivered)+testutil.ToFloat64(n.senders[1].delivered) == 2
	})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if got, err := testutil.GatherAndCount(reg, "ppwatch_notifications_total"); err != nil || got != 2 {
		t.Errorf("%d ppwatch_notifications_total series, want 2 (one per target)", got)
	}

	// A reload makes a new Notifier on the same registry; the counters of a
	// target carry on instead of failing with "already registered".
	n.Stop()
	again, err := New(Options{Targets: []Target{{Kind: Alertmanager, URL: rc.srv.URL}}, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(again.senders[0].delivered); v != 1 {
		t.Errorf("after re-registering: delivered %v, want 1", v)
	}
	if _, err := New(Options{Registerer: conflicting()}); err == nil || !strings.HasPrefix(err.Error(), "notify: register metrics: ") {
		t.Errorf("conflicting registration: %v", err)
	}
}

// conflicting is a registry that already has a ppwatch_notifications_total
// of another shape.
func conflicting() prometheus.Registerer {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "ppwatch_notifications_total", Help: "Other."}))
	return reg
}
