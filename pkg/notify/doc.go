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
// request to an Alertmanager, one alert per request to a webhook. A 2xx answer is delivery; a network error, a 5xx or a 429 retries
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
// The body is one JSON object POSTed to the URL as configured: Alertmanager's
// webhook payload, version 4, as Alertmanager's webhook_configs send it, so
// that a receiver written for Alertmanager reads it unchanged:
//
//	{"receiver":"ppwatch",
//	 "status":"firing",
//	 "alerts":[{"status":"firing",
//	            "labels":{"alertname":"ProofpointBlockRatioHigh","instance":"mta1.example.net:9797","severity":"page","source_ip":"192.0.2.10"},
//	            "annotations":{"summary":"…"},
//	            "startsAt":"2025-03-01T10:00:00Z","endsAt":"2025-03-01T10:04:00Z",
//	            "generatorURL":"http://mta1.example.net:9797/…",
//	            "fingerprint":"…"}],
//	 "groupLabels":{…the alert's labels…},
//	 "commonLabels":{…the alert's labels…},
//	 "commonAnnotations":{…the alert's annotations…},
//	 "externalURL":"http://mta1.example.net:9797",
//	 "version":"4",
//	 "groupKey":"{}:{alertname=\"ProofpointBlockRatioHigh\", instance=\"mta1.example.net:9797\", severity=\"page\", source_ip=\"192.0.2.10\"}",
//	 "truncatedAlerts":0}
//
// Each request holds one alert, and is its own group, as Alertmanager
// sends alerts routed with group_by: ['...']: groupLabels and commonLabels
// are the alert's labels, commonAnnotations its annotations, and groupKey
// ("{}:" and the labels as Prometheus writes a label set) names the alert,
// so a receiver that opens one incident per groupKey opens one per alert and
// closes it when that alert resolves. receiver is "ppwatch"; externalURL is
// the daemon's external URL; fingerprint is Alertmanager's fingerprint of
// the labels (the same alert has the same fingerprint in both);
// truncatedAlerts is always 0.
//
// What a receiver can rely on:
//
//   - version is "4". Version "1" (ppwatch before the Alertmanager payload)
//     had only version, status and alerts, with the same meaning, and alerts
//     without fingerprint; version 4 keeps all of them, so a receiver of
//     version 1 that does not insist on "1" reads version 4 as before. A
//     change that breaks receivers gets a new version.
//   - An alert's status is "resolved" when its endsAt is not after the time
//     the request is sent, else "firing".
//   - The top-level status is "firing" when any alert in the request is
//     firing, else "resolved".
//   - labels always holds alertname and severity, and the daemon's external
//     labels (instance by default); annotations is always there, possibly
//     empty; times are RFC 3339 with a zone offset ("Z" for UTC).
//   - A firing alert is sent again every resend interval with a later endsAt;
//     a receiver that pages should deduplicate by the label set (or
//     groupKey, or fingerprint). A resolved alert may arrive more than once.
//   - Answer 2xx when the request is taken. 5xx and 429 are retried;
//     other answers drop the request.
//
// Both kinds send Content-Type: application/json and User-Agent:
// ppwatch/<version>, and may use basic auth, a bearer token and TLS client
// settings. Password and token files are read for every request, so they
// can be rotated without a reload.
package notify
