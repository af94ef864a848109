package mxlearn

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Learner's; nil (no Registerer) counts nothing. The
// counters are bound to their labels once: a skip is counted on the
// reading's path.
type metrics struct {
	lookups *prometheus.CounterVec
	skips   *prometheus.CounterVec
	looks   [3]prometheus.Counter // by looked*
	skipsBy [2]prometheus.Counter // by skip*
}

// The label values, in the order of the arrays above.
const (
	lookedProofpoint = iota
	lookedOther
	lookedUnknown
)

const (
	skipBound = iota
	skipQueueFull
)

func newMetrics(reg prometheus.Registerer, l *Learner) *metrics {
	m := &metrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppwatch_mx_lookups_total",
			Help: "MX lookups of recipient domains, by result: proofpoint, not_proofpoint, unknown (the lookup failed; asked again later)."}, []string{"result"}),
		skips: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppwatch_mx_lookups_skipped_total",
			Help: "Recipient domains not looked up, by reason: bound (as many domains known as kept at most), queue_full (more new domains than lookups)."}, []string{"reason"}),
	}
	for i, r := range []string{"proofpoint", "not_proofpoint", "unknown"} {
		m.looks[i] = m.lookups.WithLabelValues(r)
	}
	for i, r := range []string{"bound", "queue_full"} {
		m.skipsBy[i] = m.skips.WithLabelValues(r)
	}
	domains := prometheus.NewDesc("ppwatch_mx_domains", "Recipient domains with a current MX verdict, by whether their MX is Proofpoint's.", []string{"proofpoint"}, nil)
	reg.MustRegister(m.lookups, m.skips, collector{domains, l})
	return m
}

func (m *metrics) looked(result int) {
	if m != nil {
		m.looks[result].Inc()
	}
}

func (m *metrics) skipped(reason int) {
	if m != nil {
		m.skipsBy[reason].Inc()
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
