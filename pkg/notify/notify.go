package notify

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
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

// BasicAuth is sent as HTTP basic auth; PasswordFile is read at send time.
type BasicAuth struct{ Username, Password, PasswordFile string }

// TLS configures the client side of TLS to a target.
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
	BearerTokenFile string
	TLS             TLS
}

// Options configure a Notifier.
type Options struct {
	Targets    []Target
	QueueSize  int // alerts queued per target; 0 = 10000; when full, the oldest are dropped and counted
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // self-metrics; nil = none
}

// Notifier delivers alerts to its targets.
type Notifier struct{}

// New validates targets (URL parse, files readable, TLS loadable); the error names the target URL and what is wrong.
func New(o Options) (*Notifier, error) { return &Notifier{}, nil }

// Send queues alerts for every target and returns at once.
func (n *Notifier) Send(alerts []Alert) {}

// Start starts one delivery goroutine per target.
func (n *Notifier) Start() {}

// Stop ends the delivery goroutines.
func (n *Notifier) Stop() {}
