package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"
)

// sender delivers one target's queue.
type sender struct {
	n         *Notifier
	target    Target
	name      string // URL without credentials: log field and metric label
	endpoint  string // where requests go
	batch     int    // alerts per request
	timeout   time.Duration
	userAgent string
	transport *http.Transport
	client    *http.Client
	q         *queue
	wake      chan struct{}
	log       zerolog.Logger

	delivered, failed, dropped prometheus.Counter
	latency                    prometheus.Observer

	// Owned by the delivery goroutine; abandoned is read by Stop after it ended.
	failures  int
	abandoned int

	dropMu      sync.Mutex
	dropPending int
	lastDropLog time.Time
}

// dropLogEvery limits the "queue full" warning: during an outage the
// evaluator's resends would otherwise log on every evaluation.
const dropLogEvery = time.Minute

func (s *sender) enqueue(alerts []Alert) {
	if d := s.q.push(alerts); d > 0 {
		s.dropped.Add(float64(d))
		s.noteDropped(d)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sender) noteDropped(d int) {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	s.dropPending += d
	if now := time.Now(); now.Sub(s.lastDropLog) >= dropLogEvery {
		s.log.Warn().Int("alerts", s.dropPending).Msg("alert queue full, dropped oldest")
		s.dropPending = 0
		s.lastDropLog = now
	}
}

func (s *sender) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		batch := s.q.pop(s.batch)
		if batch == nil {
			select {
			case <-stop:
				return
			case <-s.wake:
			}
			continue
		}
		if !s.deliver(batch, stop) {
			s.abandoned = len(batch)
			return
		}
	}
}

// deliver sends one batch until it is delivered or rejected (true) or
// until stop is closed while waiting to retry (false).
func (s *sender) deliver(batch []Alert, stop <-chan struct{}) bool {
	backoff := s.n.initialBackoff
	for {
		status, body, err := s.post(batch)
		switch {
		case err == nil && status/100 == 2:
			s.delivered.Add(float64(len(batch)))
			if s.failures > 0 {
				s.log.Info().Int("failed_attempts", s.failures).Msg("alert target reachable again")
			}
			s.failures = 0
			s.log.Debug().Int("alerts", len(batch)).Msg("alerts sent")
			return true
		case err == nil && status/100 != 5 && status != http.StatusTooManyRequests:
			// The target understood the request and refused it: sending the
			// same bytes again cannot help.
			s.failed.Add(float64(len(batch)))
			s.dropped.Add(float64(len(batch)))
			s.failures = 0
			s.log.Warn().Int("alerts", len(batch)).Int("status", status).Str("body", body).Msg("alerts rejected by target, dropped")
			return true
		}
		s.failed.Add(float64(len(batch)))
		s.failures++
		wait := backoff/2 + rand.N(backoff/2+1)
		// The first failure and every 10th after it warn; the rest of a
		// long outage logs at debug.
		ev := s.log.Debug()
		if s.failures == 1 || s.failures%10 == 0 {
			ev = s.log.Warn()
		}
		if err != nil {
			ev = ev.Err(err)
		} else {
			ev = ev.Int("status", status).Str("body", body)
		}
		ev.Int("alerts", len(batch)).Int("attempt", s.failures).Float64("retry_in_seconds", wait.Seconds()).Msg("alert delivery failed, will retry")
		t := time.NewTimer(wait)
		select {
		case <-stop:
			t.Stop()
			return false
		case <-t.C:
		}
		backoff = min(2*backoff, s.n.maxBackoff)
	}
}

// post sends one request and returns the status and the start of the
// answer's body; err is set when no answer came.
func (s *sender) post(batch []Alert) (status int, body string, err error) {
	payload, err := s.encode(batch)
	if err != nil {
		return 0, "", err
	}
	// Not bound to Stop: a request under way may finish within its timeout,
	// so a resolution sent just before shutdown still arrives.
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(payload))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.userAgent)
	if err := s.authorize(req); err != nil {
		return 0, "", err
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		s.latency.Observe(time.Since(start).Seconds())
		return 0, "", err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	// Reading the rest lets the connection be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	s.latency.Observe(time.Since(start).Seconds())
	return resp.StatusCode, string(head), nil
}

// webhookMessage is Alertmanager's webhook payload, version 4
// (notify/webhook.Message around template.Data), in its field order, so
// that receivers written for Alertmanager read it unchanged. Version 1's
// fields (version, status, alerts) are all in it.
type webhookMessage struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []webhookAlert    `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
}

// webhookAlert is template.Alert: unlike the Alertmanager API's alert, its
// annotations and generatorURL are always there.
type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// WebhookReceiver is the receiver name webhook payloads carry, where
// Alertmanager puts the name of its receiver.
const WebhookReceiver = "ppwatch"

func (s *sender) encode(batch []Alert) ([]byte, error) {
	if s.target.Kind == Alertmanager {
		return json.Marshal(batch)
	}
	now := s.n.now()
	msg := webhookMessage{Receiver: WebhookReceiver, Status: "resolved", Alerts: make([]webhookAlert, len(batch)),
		ExternalURL: s.n.ExternalURL(), Version: "4"}
	for i, a := range batch {
		st := "firing"
		// A zero endsAt means no end is known, as in Alertmanager.
		if !a.EndsAt.IsZero() && !a.EndsAt.After(now) {
			st = "resolved"
		} else {
			msg.Status = "firing"
		}
		ann := a.Annotations
		if ann == nil {
			ann = map[string]string{}
		}
		msg.Alerts[i] = webhookAlert{Status: st, Labels: a.Labels, Annotations: ann, StartsAt: a.StartsAt, EndsAt: a.EndsAt,
			GeneratorURL: a.GeneratorURL, Fingerprint: labelSet(a.Labels).Fingerprint().String()}
	}
	msg.CommonLabels = common(batch, func(a Alert) map[string]string { return a.Labels })
	msg.CommonAnnotations = common(batch, func(a Alert) map[string]string { return a.Annotations })
	// The request is one group, as Alertmanager groups by the labels its
	// alerts share; the sender sends one alert per request, so the group is
	// that alert, as with Alertmanager's group_by: ['...'].
	msg.GroupLabels = msg.CommonLabels
	msg.GroupKey = "{}:" + labelSet(msg.GroupLabels).String()
	return json.Marshal(msg)
}

// common returns the pairs every alert of batch has, as Alertmanager's
// CommonLabels and CommonAnnotations.
func common(batch []Alert, of func(Alert) map[string]string) map[string]string {
	out := map[string]string{}
	if len(batch) == 0 {
		return out
	}
	maps.Copy(out, of(batch[0]))
	for _, a := range batch[1:] {
		m := of(a)
		for k, v := range out {
			if w, ok := m[k]; !ok || w != v {
				delete(out, k)
			}
		}
	}
	return out
}

// labelSet is labels as Prometheus' model has them, whose Fingerprint and
// String are what Alertmanager writes as an alert's fingerprint and in a
// group key.
func labelSet(labels map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(labels))
	for n, v := range labels {
		ls[model.LabelName(n)] = model.LabelValue(v)
	}
	return ls
}

// authorize sets the Authorization header, reading secret files now so
// that rotated secrets are picked up without a reload.
func (s *sender) authorize(req *http.Request) error {
	if b := s.target.BasicAuth; b != nil {
		pw := b.Password
		if b.PasswordFile != "" {
			data, err := os.ReadFile(b.PasswordFile)
			if err != nil {
				return fmt.Errorf("basic_auth: password_file: %w", err)
			}
			pw = strings.TrimSpace(string(data))
		}
		req.SetBasicAuth(b.Username, pw)
	}
	token := s.target.BearerToken
	if s.target.BearerTokenFile != "" {
		data, err := os.ReadFile(s.target.BearerTokenFile)
		if err != nil {
			return fmt.Errorf("bearer_token_file: %w", err)
		}
		token = strings.TrimSpace(string(data))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return nil
}

// shutdown drops what Stop left undelivered and closes idle connections.
func (s *sender) shutdown() {
	left := s.abandoned + s.q.clear()
	s.abandoned = 0
	if left > 0 {
		s.dropped.Add(float64(left))
		s.log.Warn().Int("alerts", left).Msg("notifier stopped, undelivered alerts dropped")
	}
	s.transport.CloseIdleConnections()
}
