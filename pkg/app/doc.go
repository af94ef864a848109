// Package app wires the daemon and owns its lifecycle: start, reload
// (prepared whole, then swapped in), stop. It is the one package that
// imports all the others; each of them owns one thing:
//
//	pkg/event       the delivery event, the counter key (Series), the outcome rule
//	parsers/...     one MTA's log line → event.Delivery (pure functions of a line)
//	pkg/classify    reply text → class, Proofpoint markers, source IP in a reply
//	pkg/pipeline    one stream's lines → parser → relays, source IP, class
//	pkg/alert       alert rules and their evaluation (no I/O)
//	pkg/dnscheck    the sender's DNS: PTR, FCrDNS, SPF, DMARC, DKIM, DNSBLs, MX
//	pkg/config      the YAML file, validated up front; builds the pipeline options
//	pkg/tailer      files → lines exactly once, with positions (rotation, truncation, restart)
//	pkg/journal     journalctl → syslog lines with cursors
//	pkg/store       the bbolt state file: counts, replies, positions, figures, alert and check state
//	pkg/agg         the in-memory figures a scrape reads (windows, domain cap)
//	pkg/metrics     the aggregate and the self-metrics as Prometheus metrics
//	pkg/ingest      the one writer: lines → pipelines → store commits, then the aggregate
//	pkg/notify      Alertmanager and webhook delivery
//	pkg/alerting    the evaluation loop over the store, its saved state and metrics
//	pkg/hygiene     the sender checks on their intervals, their saved history and metrics
//	pkg/web         HTTP: /metrics, readiness, the status page, the IP pages, the JSON API, /alerts
//	pkg/cli         the one-shot commands (parse, scan, check-config, state, version)
//
// A package imports only packages above it in this list: parsers know
// nothing of storage or metrics, the tailer knows nothing of ppwatch and
// the store only pkg/event, the line path knows nothing of the
// configuration, and the web side reads no storage. imports_test.go keeps
// it so.
//
// Shutdown order (Stop): stop the tailer and drain what it handed over,
// commit the last batch with its positions in one transaction, stop the
// alert runner and the sender checks (a round under way is cancelled and
// dropped), shut the HTTP server down with a deadline, close the store.
package app
