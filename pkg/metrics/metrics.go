// Package metrics exposes ppwatch's figures to Prometheus. The Collector
// turns an in-memory snapshot into const metrics at each scrape (no store
// transaction); Self holds the daemon's own health metrics. Label values
// come from closed sets or the config, never from recipients, queue IDs or
// reply texts; recipient domains are capped by the snapshot.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ppwatch/ppwatch/pkg/agg"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// Unknown is the source_ip label value when the sending IP is not known.
const Unknown = "unknown"

// Snapshotter gives the figures as of now.
type Snapshotter interface {
	Snapshot(now time.Time) *agg.Snapshot
}

var (
	attemptsDesc = prometheus.NewDesc("ppwatch_attempts_total",
		"Delivery attempts by MTA, sending IP, status, class and whether the receiver is Proofpoint.",
		[]string{"mta", "source_ip", "status", "class", "proofpoint"}, nil)
	ppAttemptsDesc = prometheus.NewDesc("ppwatch_proofpoint_attempts_total",
		"Delivery attempts to Proofpoint receivers by sending IP, recipient domain (top N, others as \"other\"), status and class.",
		[]string{"source_ip", "recipient_domain", "status", "class"}, nil)
	ppBlocksDesc = prometheus.NewDesc("ppwatch_proofpoint_blocks_total",
		"Proofpoint attempts that were blocks (5xx, class not recipient) by sending IP, recipient domain (as in ppwatch_proofpoint_attempts_total) and class.",
		[]string{"source_ip", "recipient_domain", "class"}, nil)
	ppDeferralsDesc = prometheus.NewDesc("ppwatch_proofpoint_deferrals_total",
		"Proofpoint attempts that were deferrals (4xx) by sending IP, recipient domain (as in ppwatch_proofpoint_attempts_total) and class.",
		[]string{"source_ip", "recipient_domain", "class"}, nil)
	blockRatioDesc = prometheus.NewDesc("ppwatch_proofpoint_block_ratio",
		"Blocks divided by Proofpoint attempts of the sending IP in the window, by event time.",
		[]string{"source_ip", "window"}, nil)
	deferralRatioDesc = prometheus.NewDesc("ppwatch_proofpoint_deferral_ratio",
		"Deferrals divided by Proofpoint attempts of the sending IP in the window, by event time.",
		[]string{"source_ip", "window"}, nil)
	windowAttemptsDesc = prometheus.NewDesc("ppwatch_proofpoint_window_attempts",
		"Proofpoint attempts of the sending IP in the window, by event time (the ratios' denominator).",
		[]string{"source_ip", "window"}, nil)
	lastBlockDesc = prometheus.NewDesc("ppwatch_proofpoint_last_block_timestamp_seconds",
		"Event time of the latest Proofpoint block of the sending IP.",
		[]string{"source_ip"}, nil)
	foldedDesc = prometheus.NewDesc("ppwatch_proofpoint_domains_folded_total",
		"Proofpoint attempts of the sending IP that the state file counts under recipient_domain \"other\" because the IP, or the file, had reached its bound of recipient domains kept by name (domains.stored_per_ip, domains.stored_total).",
		[]string{"source_ip"}, nil)
)

// Collector exposes a Snapshotter's figures.
type Collector struct {
	src     Snapshotter
	now     func() time.Time
	windows func(time.Duration) string
}

// NewCollector returns a Collector; window formats a window as its label
// value ("5m", "1h", "24h").
func NewCollector(src Snapshotter, now func() time.Time, window func(time.Duration) string) *Collector {
	return &Collector{src: src, now: now, windows: window}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{attemptsDesc, ppAttemptsDesc, ppBlocksDesc, ppDeferralsDesc, blockRatioDesc, deferralRatioDesc, windowAttemptsDesc, lastBlockDesc, foldedDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Snapshot(c.now())
	for _, a := range s.Attempts {
		ch <- prometheus.MustNewConstMetric(attemptsDesc, prometheus.CounterValue, float64(a.N),
			a.MTA, ip(a.SourceIP), a.Status, a.Class, boolLabel(a.Proofpoint))
	}
	for _, a := range s.PPAttempts {
		ch <- prometheus.MustNewConstMetric(ppAttemptsDesc, prometheus.CounterValue, float64(a.N),
			ip(a.SourceIP), a.RecipientDomain, a.Status, a.Class)
	}
	for _, a := range s.PPOutcomes {
		d := ppBlocksDesc
		if a.Outcome == event.OutcomeDeferral {
			d = ppDeferralsDesc
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(a.N), ip(a.SourceIP), a.RecipientDomain, a.Class)
	}
	for _, w := range s.Windows {
		win := c.windows(w.Window)
		ch <- prometheus.MustNewConstMetric(blockRatioDesc, prometheus.GaugeValue, float64(w.Blocks)/float64(w.Attempts), ip(w.SourceIP), win)
		ch <- prometheus.MustNewConstMetric(deferralRatioDesc, prometheus.GaugeValue, float64(w.Deferrals)/float64(w.Attempts), ip(w.SourceIP), win)
		ch <- prometheus.MustNewConstMetric(windowAttemptsDesc, prometheus.GaugeValue, float64(w.Attempts), ip(w.SourceIP), win)
	}
	for addr, t := range s.LastBlock {
		ch <- prometheus.MustNewConstMetric(lastBlockDesc, prometheus.GaugeValue, float64(t.UnixNano())/1e9, ip(addr))
	}
	for addr, n := range s.Folded {
		ch <- prometheus.MustNewConstMetric(foldedDesc, prometheus.CounterValue, float64(n), ip(addr))
	}
}

func ip(s string) string {
	if s == "" {
		return Unknown
	}
	return s
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Self is the daemon's own health.
type Self struct {
	Lines           *prometheus.CounterVec // input, result
	Offset          *prometheus.GaugeVec   // input
	LastLine        *prometheus.GaugeVec   // input
	CommitDuration  prometheus.Histogram
	CommitErrors    prometheus.Counter
	StoreSize       prometheus.Gauge
	StoreHealthy    prometheus.Gauge
	LostFiles       prometheus.Counter
	ReloadSuccess   prometheus.Gauge
	ReloadTimestamp prometheus.Gauge
	Uncommitted     prometheus.Gauge
}

// NewSelf registers the self-metrics with reg.
func NewSelf(reg prometheus.Registerer) *Self {
	f := promauto.With(reg)
	return &Self{
		Lines: f.NewCounterVec(prometheus.CounterOpts{Name: "ppwatch_log_lines_total",
			Help: "Log lines read, by input and result (parsed, ignored, malformed)."}, []string{"input", "result"}),
		Offset: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ppwatch_input_offset_bytes",
			Help: "Committed read position in the input's current file."}, []string{"input"}),
		LastLine: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ppwatch_input_last_line_timestamp_seconds",
			Help: "Wall-clock time the input's latest line was read."}, []string{"input"}),
		CommitDuration: f.NewHistogram(prometheus.HistogramOpts{Name: "ppwatch_store_commit_duration_seconds",
			Help: "Duration of store commits (counts and positions in one transaction).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		CommitErrors: f.NewCounter(prometheus.CounterOpts{Name: "ppwatch_store_commit_errors_total",
			Help: "Store commits that failed; the batch is kept and retried."}),
		StoreSize: f.NewGauge(prometheus.GaugeOpts{Name: "ppwatch_store_size_bytes", Help: "Size of the state file."}),
		StoreHealthy: f.NewGauge(prometheus.GaugeOpts{Name: "ppwatch_store_healthy",
			Help: "1 when the latest store commit succeeded, else 0."}),
		LostFiles: f.NewCounter(prometheus.CounterOpts{Name: "ppwatch_lost_files_total",
			Help: "Rotated files that were gone before their unread end could be read."}),
		ReloadSuccess: f.NewGauge(prometheus.GaugeOpts{Name: "ppwatch_config_last_reload_successful",
			Help: "1 when the latest configuration reload succeeded, else 0."}),
		ReloadTimestamp: f.NewGauge(prometheus.GaugeOpts{Name: "ppwatch_config_last_reload_success_timestamp_seconds",
			Help: "Time of the latest successful configuration load."}),
		Uncommitted: f.NewGauge(prometheus.GaugeOpts{Name: "ppwatch_uncommitted_attempts",
			Help: "Attempts read but not yet committed to the store."}),
	}
}

var webInfoDesc = prometheus.NewDesc("ppwatch_web_info",
	"The URL people reach the daemon at (external_url); the value is 1.", []string{"external_url"}, nil)

// webInfo is ppwatch_web_info: dashboards build their links to the
// daemon's pages from it, since Prometheus's instance label tells neither
// the scheme nor a proxy's path.
type webInfo func() string

// RegisterWebInfo registers ppwatch_web_info with the URL url returns at
// each scrape (it changes on reload); none while it is "".
func RegisterWebInfo(reg prometheus.Registerer, url func() string) {
	reg.MustRegister(webInfo(url))
}

func (w webInfo) Describe(ch chan<- *prometheus.Desc) { ch <- webInfoDesc }

func (w webInfo) Collect(ch chan<- prometheus.Metric) {
	if u := w(); u != "" {
		ch <- prometheus.MustNewConstMetric(webInfoDesc, prometheus.GaugeValue, 1, u)
	}
}
