package hygiene

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppwatch/ppwatch/pkg/dnscheck"
)

// The metrics of the checks. check is one of the checks below (ptr_domain
// and ptr_generic only ever warn, which counts as ok: as a metric they
// would always be 1); subject is the result's target, unique per check
// ("192.0.2.1", "198.51.100.7 for example.com", "s1._domainkey.example.com",
// and for dnsbl "192.0.2.1 on zen.spamhaus.org").
var (
	checkOKDesc = prometheus.NewDesc("ppwatch_dns_check_ok",
		"1 when the sender check's latest result is pass or warn, 0 when it is fail; absent while it is unknown.",
		[]string{"check", "subject"}, nil)
	checkUnknownDesc = prometheus.NewDesc("ppwatch_dns_check_unknown",
		"1 when the sender check's latest round could not tell (a lookup failed or timed out, a DNSBL gave no verdict), else 0.",
		[]string{"check", "subject"}, nil)
	checkTimeDesc = prometheus.NewDesc("ppwatch_dns_check_timestamp_seconds",
		"When the sender check was last made.", []string{"check", "subject"}, nil)
	listedDesc = prometheus.NewDesc("ppwatch_dnsbl_listed",
		"1 when the DNSBL zone lists the sending IP, 0 when it does not; absent while unknown.",
		[]string{"source_ip", "zone"}, nil)
)

// okChecks are the checks of ppwatch_dns_check_ok.
var okChecks = map[dnscheck.Check]bool{dnscheck.CheckPTR: true, dnscheck.CheckFCrDNS: true,
	dnscheck.CheckSPF: true, dnscheck.CheckDMARC: true, dnscheck.CheckDKIM: true}

// Describe implements prometheus.Collector.
func (r *Runner) Describe(ch chan<- *prometheus.Desc) {
	ch <- checkOKDesc
	ch <- checkUnknownDesc
	ch <- checkTimeDesc
	ch <- listedDesc
}

// Collect implements prometheus.Collector: the latest result of each
// check of today's subjects.
func (r *Runner) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	b := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	for _, s := range r.Latest() {
		res := s.Result
		if res.Check != dnscheck.CheckDNSBL && !okChecks[res.Check] {
			continue
		}
		check, subject, known := string(res.Check), res.Target(), res.Status != dnscheck.Unknown
		gauge(checkUnknownDesc, b(!known), check, subject)
		gauge(checkTimeDesc, float64(res.Checked.UnixNano())/1e9, check, subject)
		switch {
		case !known:
		case res.Check == dnscheck.CheckDNSBL:
			gauge(listedDesc, b(res.Status == dnscheck.Fail), res.Subject, res.Zone)
		default:
			gauge(checkOKDesc, b(res.Status != dnscheck.Fail), check, subject)
		}
	}
}
