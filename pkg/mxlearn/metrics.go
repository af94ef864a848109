package mxlearn

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Learner's; nil (no Registerer) counts nothing.
type metrics struct {
	lookups *prometheus.CounterVec
	skips   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, l *Learner) *metrics {
	m := &metrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppwatch_mx_lookups_total",
			Help: "MX lookups of recipient domains, by result: proofpoint, not_proofpoint, unknown (the lookup failed; asked again later)."}, []string{"result"}),
		skips: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppwatch_mx_lookups_skipped_total",
			Help: "Recipient domains not looked up, by reason: bound (as many domains known as kept at most), queue_full (more new domains than lookups)."}, []string{"reason"}),
	}
	for _, r := range []string{"proofpoint", "not_proofpoint", "unknown"} {
		m.lookups.WithLabelValues(r)
	}
	for _, r := range []string{"bound", "queue_full"} {
		m.skips.WithLabelValues(r)
	}
	domains := prometheus.NewDesc("ppwatch_mx_domains", "Recipient domains with a current MX verdict, by whether their MX is Proofpoint's.", []string{"proofpoint"}, nil)
	reg.MustRegister(m.lookups, m.skips, collector{domains, l})
	return m
}

func (m *metrics) looked(result string) {
	if m != nil {
		m.lookups.WithLabelValues(result).Inc()
	}
}

func (m *metrics) skipped(reason string) {
	if m != nil {
		m.skips.WithLabelValues(reason).Inc()
	}
}

// collector reads the known domains at each scrape.
type collector struct {
	desc *prometheus.Desc
	l    *Learner
}

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	pp, other := c.l.counts()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(pp), "true")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(other), "false")
}
