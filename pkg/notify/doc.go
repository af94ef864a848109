// Package notify delivers alerts to Prometheus Alertmanagers (API v2) and
// to generic JSON webhooks. It decides nothing about alerts: the caller
// sets StartsAt and EndsAt, resends firing alerts and sends a resolved one
// with EndsAt at the resolve time. notify only queues and delivers.
//
// Every target has its own bounded queue and delivery goroutine, so a slow
// or unreachable target never holds up the caller or another target. A
// queued alert is replaced by a newer copy with the same label set, so the
// resends of a long outage do not fill the queue; when it is full anyway,
// the oldest alerts are dropped and counted. Up to 64 alerts go in one
// request. A 2xx answer is delivery; a network error, a 5xx or a 429 retries
// the same batch with exponential backoff (1s doubling up to 1m); any other
// answer drops the batch.
//
// # Alertmanager
//
// The body is a JSON array of alerts POSTed to <url>/api/v2/alerts, as
// Prometheus sends it:
//
//	[{"labels":{"alertname":"ProofpointBlockRatioHigh","severity":"page","source_ip":"192.0.2.10"},
//	  "annotations":{"summary":"…","runbook_url":"…"},
//	  "startsAt":"2025-03-01T10:00:00Z","endsAt":"2025-03-01T10:04:00Z",
//	  "generatorURL":"http://mta1.example.net:9797/…"}]
//
// # Webhook
//
// The body is one JSON object POSTed to the URL as configured:
//
//	{"version":"1",
//	 "status":"firing",
//	 "alerts":[{"status":"firing",
//	            "labels":{"alertname":"ProofpointBlockRatioHigh","severity":"page","source_ip":"192.0.2.10"},
//	            "annotations":{"summary":"…"},
//	            "startsAt":"2025-03-01T10:00:00Z","endsAt":"2025-03-01T10:04:00Z",
//	            "generatorURL":"http://mta1.example.net:9797/…"}]}
//
// What a receiver can rely on:
//
//   - version is "1"; a change that breaks receivers gets a new version.
//   - An alert's status is "resolved" when its endsAt is not after the time
//     the request is sent, else "firing".
//   - The top-level status is "firing" when any alert in the request is
//     firing, else "resolved".
//   - labels always holds alertname and severity; annotations may be absent;
//     times are RFC 3339 with a zone offset ("Z" for UTC).
//   - A firing alert is sent again every resend interval with a later endsAt;
//     a receiver that pages should deduplicate by the label set. A resolved
//     alert may arrive more than once.
//   - Answer 2xx when the request is taken. 5xx and 429 are retried;
//     other answers drop the request.
//
// Both kinds send Content-Type: application/json and User-Agent:
// ppwatch/<version>, and may use basic auth, a bearer token and TLS client
// settings. Password and token files are read for every request, so they
// can be rotated without a reload.
package notify
