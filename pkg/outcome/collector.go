package outcome

import "github.com/prometheus/client_golang/prometheus"

var (
	outcomesDesc = prometheus.NewDesc("ppwatch_proofpoint_message_outcomes_total",
		"Messages Proofpoint deferred, by what became of them: delivered (after retry), bounced, expired (the MTA's retry time ran out, or no attempt for 7 days).",
		[]string{"source_ip", "outcome"}, nil)
	deferredDesc = prometheus.NewDesc("ppwatch_proofpoint_messages_deferred",
		"Messages Proofpoint deferred that have no outcome yet: still queued.", []string{"source_ip"}, nil)
	delayDesc = prometheus.NewDesc("ppwatch_proofpoint_message_delay_seconds_total",
		"Time from the first Proofpoint deferral to delivery, summed over the messages delivered after retry (divide by the delivered outcomes for the mean).",
		[]string{"source_ip"}, nil)
	untrackedDesc = prometheus.NewDesc("ppwatch_proofpoint_messages_untracked_total",
		"Messages Proofpoint deferred that were not followed: 50,000 were followed already.", []string{"source_ip"}, nil)
)

// Describe and Collect make the Tracker a Prometheus collector.
func (t *Tracker) Describe(ch chan<- *prometheus.Desc) {
	ch <- outcomesDesc
	ch <- deferredDesc
	ch <- delayDesc
	ch <- untrackedDesc
}

func (t *Tracker) Collect(ch chan<- prometheus.Metric) {
	for _, c := range t.Snapshot() {
		ip := c.SourceIP
		if ip == "" {
			ip = "unknown"
		}
		for i, n := range []uint64{c.Delivered, c.Bounced, c.Expired} {
			ch <- prometheus.MustNewConstMetric(outcomesDesc, prometheus.CounterValue, float64(n), ip, outcomes[i])
		}
		ch <- prometheus.MustNewConstMetric(deferredDesc, prometheus.GaugeValue, float64(c.Open), ip)
		ch <- prometheus.MustNewConstMetric(delayDesc, prometheus.CounterValue, c.DelaySeconds, ip)
		ch <- prometheus.MustNewConstMetric(untrackedDesc, prometheus.CounterValue, float64(c.Untracked), ip)
	}
}
