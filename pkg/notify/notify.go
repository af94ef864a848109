package notify

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/version"
)

// Alert is one alert in Alertmanager's v2 API shape (POST /api/v2/alerts takes a JSON array of these).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Kind is the protocol spoken to a target.
type Kind string

const (
	Alertmanager Kind = "alertmanager" // URL is the base; /api/v2/alerts is appended
	Webhook      Kind = "webhook"      // URL is used as is
)

// BasicAuth is sent as HTTP basic auth. PasswordFile is read for every
// request, so the password can be rotated without a reload.
type BasicAuth struct{ Username, Password, PasswordFile string }

// TLS configures the client side of TLS to a target. The files are read
// once, by New.
type TLS struct {
	CAFile, CertFile, KeyFile, ServerName string
	InsecureSkipVerify                    bool
}

// Target is one Alertmanager or webhook receiver.
type Target struct {
	Kind            Kind
	URL             string
	Timeout         time.Duration // per request; 0 = 10s
	BasicAuth       *BasicAuth
	BearerToken     string
	BearerTokenFile string // read for every request
	TLS             TLS
}

// Options configure a Notifier.
type Options struct {
	Targets    []Target
	QueueSize  int // alerts queued per target; 0 = 10000; when full, the oldest are dropped and counted
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // self-metrics; nil = none
}

const (
	defaultTimeout   = 10 * time.Second
	defaultQueueSize = 10000
	maxBatch         = 64 // to an Alertmanager; a webhook gets one alert per request
)

// Notifier delivers alerts to its targets.
type Notifier struct {
	senders []*sender
	log     zerolog.Logger

	// Tests shorten the retry schedule and fix the clock through these.
	initialBackoff time.Duration
	maxBackoff     time.Duration
	now            func() time.Time

	externalURL atomic.Pointer[string]

	startOnce sync.Once
	stopOnce  sync.Once
	stop      chan struct{}
	wg        sync.WaitGroup
}

// New validates the targets (URL, auth and TLS files) and returns a
// Notifier that delivers once started. An error names the target's URL and
// what is wrong with it.
func New(o Options) (*Notifier, error) {
	if o.QueueSize < 0 {
		return nil, fmt.Errorf("notify: queue size %d is negative", o.QueueSize)
	}
	size := o.QueueSize
	if size == 0 {
		size = defaultQueueSize
	}
	n := &Notifier{
		log:            o.Logger.With().Str("component", "notify").Logger(),
		initialBackoff: time.Second,
		maxBackoff:     time.Minute,
		now:            time.Now,
		stop:           make(chan struct{}),
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	ver, _, _ := version.Info()
	seen := map[string]bool{}
	for _, t := range o.Targets {
		s, err := newSender(n, t, size, "ppwatch/"+ver, m)
		if err != nil {
			return nil, fmt.Errorf("notify: target %q: %w", redact(t.URL), err)
		}
		// Two targets with one URL would share their metrics and page twice.
		if seen[s.name] {
			return nil, fmt.Errorf("notify: target %q: listed twice", s.name)
		}
		seen[s.name] = true
		n.senders = append(n.senders, s)
	}
	return n, nil
}

func newSender(n *Notifier, t Target, queueSize int, userAgent string, m *metrics) (*sender, error) {
	if t.Kind != Alertmanager && t.Kind != Webhook {
		return nil, fmt.Errorf("kind %q is neither %q nor %q", t.Kind, Alertmanager, Webhook)
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("url: want http:// or https:// and a host")
	}
	endpoint, batch := t.URL, 1
	if t.Kind == Alertmanager {
		batch = maxBatch
		// JoinPath keeps a path prefix (Alertmanager behind a proxy) and
		// copes with a base URL with or without a trailing slash.
		endpoint = u.JoinPath("api", "v2", "alerts").String()
	}
	if t.Timeout < 0 {
		return nil, fmt.Errorf("timeout %s is negative", t.Timeout)
	}
	timeout := t.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	if err := checkAuth(t); err != nil {
		return nil, err
	}
	tlsConfig, err := loadTLS(t.TLS)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	name := redact(t.URL)
	s := &sender{
		n:         n,
		target:    t,
		name:      name,
		endpoint:  endpoint,
		batch:     batch,
		timeout:   timeout,
		userAgent: userAgent,
		transport: transport,
		client:    &http.Client{Transport: transport},
		wake:      make(chan struct{}, 1),
		log:       n.log.With().Str("target", name).Logger(),
		delivered: m.delivered.WithLabelValues(name),
		failed:    m.failed.WithLabelValues(name),
		dropped:   m.dropped.WithLabelValues(name),
		latency:   m.latency.WithLabelValues(name),
	}
	s.q = newQueue(queueSize, m.queueLength.WithLabelValues(name))
	return s, nil
}

func checkAuth(t Target) error {
	if t.BearerToken != "" && t.BearerTokenFile != "" {
		return errors.New("bearer_token and bearer_token_file are both set")
	}
	if t.BasicAuth != nil && (t.BearerToken != "" || t.BearerTokenFile != "") {
		return errors.New("basic_auth and a bearer token are both set")
	}
	if t.BearerTokenFile != "" {
		if _, err := os.ReadFile(t.BearerTokenFile); err != nil {
			return fmt.Errorf("bearer_token_file: %w", err)
		}
	}
	if b := t.BasicAuth; b != nil {
		if b.Username == "" {
			return errors.New("basic_auth: username is empty")
		}
		if b.Password != "" && b.PasswordFile != "" {
			return errors.New("basic_auth: password and password_file are both set")
		}
		if b.PasswordFile != "" {
			if _, err := os.ReadFile(b.PasswordFile); err != nil {
				return fmt.Errorf("basic_auth: password_file: %w", err)
			}
		}
	}
	return nil
}

func loadTLS(c TLS) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // the user's explicit choice
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls_config: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_config: ca_file %s: no PEM certificate in it", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("tls_config: cert_file and key_file must be set together")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls_config: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// redact returns the URL without user info, for logs and metric labels.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the input, which may hold a password.
		return "(unparsable url)"
	}
	u.User = nil
	return u.String()
}

// SetExternalURL sets the externalURL of webhook payloads: the daemon's
// URL, which is known only once it listens and may change on reload.
func (n *Notifier) SetExternalURL(u string) { n.externalURL.Store(&u) }

// ExternalURL is what SetExternalURL set last.
func (n *Notifier) ExternalURL() string {
	if u := n.externalURL.Load(); u != nil {
		return *u
	}
	return ""
}

// Send queues alerts for every target and returns at once: it never blocks
// the caller (the evaluator, and so ingestion) on a slow target. After Stop
// the alerts are dropped and counted.
func (n *Notifier) Send(alerts []Alert) {
	if len(alerts) == 0 {
		return
	}
	select {
	case <-n.stop:
		// Nothing would deliver them; count them rather than hold them.
		for _, s := range n.senders {
			s.dropped.Add(float64(len(alerts)))
		}
		return
	default:
	}
	// The queues keep the alerts beyond this call; copies leave the
	// caller free to reuse its maps.
	own := make([]Alert, len(alerts))
	for i, a := range alerts {
		a.Labels = maps.Clone(a.Labels)
		a.Annotations = maps.Clone(a.Annotations)
		own[i] = a
	}
	for _, s := range n.senders {
		s.enqueue(own)
	}
}

// Start starts one delivery goroutine per target. Calls after the first do
// nothing.
func (n *Notifier) Start() {
	n.startOnce.Do(func() {
		for _, s := range n.senders {
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				s.run(n.stop)
			}()
		}
	})
}

// Stop ends the delivery goroutines, waiting for at most one in-flight
// request per target (bounded by its timeout), and drops the alerts left
// in the queues, counted and logged. It may be called more than once.
func (n *Notifier) Stop() {
	n.stopOnce.Do(func() {
		close(n.stop)
		n.wg.Wait()
		for _, s := range n.senders {
			s.shutdown()
		}
	})
}
