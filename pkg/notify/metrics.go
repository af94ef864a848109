package notify

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	delivered   *prometheus.CounterVec
	failed      *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	queueLength *prometheus.GaugeVec
	latency     *prometheus.HistogramVec
}

// newMetrics makes the self-metrics and registers them with reg, if any. A
// Notifier made again on reload with the same reg takes over the
// registered collectors, so the counters of a target carry on.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	target := []string{"target"}
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppwatch_notifications_total",
			Help: "Alerts delivered to the target."}, target),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppwatch_notifications_failed_total",
			Help: "Alerts in requests to the target that failed, counted per attempt."}, target),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppwatch_notifications_dropped_total",
			Help: "Alerts given up for the target: queue full, rejected by the target, or left at shutdown."}, target),
		queueLength: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ppwatch_notification_queue_length",
			Help: "Alerts queued for the target."}, target),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ppwatch_notification_latency_seconds",
			Help: "Duration of requests to the target.", Buckets: prometheus.DefBuckets}, target),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.delivered, err = register(reg, m.delivered); err != nil {
		return nil, err
	}
	if m.failed, err = register(reg, m.failed); err != nil {
		return nil, err
	}
	if m.dropped, err = register(reg, m.dropped); err != nil {
		return nil, err
	}
	if m.queueLength, err = register(reg, m.queueLength); err != nil {
		return nil, err
	}
	if m.latency, err = register(reg, m.latency); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("notify: register metrics: %w", err)
}
