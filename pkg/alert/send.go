package alert

import (
	"maps"
	"strings"
	"time"
)

// Notification is one alert to hand to Alertmanager.
type Notification struct {
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
}

// ResendFactor times the resend interval is how long Alertmanager keeps a
// firing alert without hearing of it again: a few lost sends do not end it,
// a daemon that died does.
const ResendFactor = 4

// Due returns the alerts to send at now, ordered by key, and records them
// as sent in as. As Prometheus does: a firing alert is sent when it was
// never sent or its last send is resend or more ago, with EndsAt now +
// 4×resend; a resolved alert is sent once, with EndsAt its resolve time, and
// then dropped. A firing alert is also sent when the EndsAt it was last sent
// with would lapse before the next resend (the resend interval grew across a
// reload or restart). Pending alerts are never sent.
func (as Alerts) Due(now time.Time, resend time.Duration) []Notification {
	var out []Notification
	for _, k := range as.keys() {
		a := as[k]
		switch a.State {
		case Pending:
			continue
		case Inactive:
			if a.ResolvedAt.IsZero() {
				delete(as, k)
				continue
			}
			out = append(out, notification(a, a.ResolvedAt))
			delete(as, k)
		case Firing:
			if !a.LastSentAt.IsZero() && now.Before(a.LastSentAt.Add(resend)) && now.Before(a.ValidUntil.Add(-resend)) {
				continue
			}
			a.LastSentAt, a.ValidUntil = now, now.Add(ResendFactor*resend)
			as[k] = a
			out = append(out, notification(a, a.ValidUntil))
		}
	}
	return out
}

func notification(a Alert, ends time.Time) Notification {
	return Notification{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.FiredAt, EndsAt: ends, GeneratorURL: a.GeneratorURL}
}

// resolvedAnnotations are the annotations a resolved alert is sent with:
// its summary and description say that it resolved, and when, for
// Alertmanager and webhooks show the annotations of the latest message,
// and the firing ones ("blocks 61.5%") would read as if the blocks went
// on. The firing summary stays in the description, as what it was.
func resolvedAnnotations(a Alert) map[string]string {
	out := maps.Clone(a.Annotations)
	if out == nil {
		out = map[string]string{}
	}
	var who []string
	if ip, ok := a.Labels[LabelSourceIP]; ok {
		who = append(who, "for "+ip)
	}
	if d, ok := a.Labels[LabelRecipientDomain]; ok {
		who = append(who, "to "+d)
	}
	name := strings.Join(append([]string{a.Rule}, who...), " ")
	out["summary"] = "Resolved: " + name + " (fired " + UTC(a.FiredAt) + ", resolved " + UTC(a.ResolvedAt) + ")"
	out["description"] = name + " resolved at " + UTC(a.ResolvedAt) + ": its condition no longer holds (it had fired for " +
		HumanizeDuration(a.ResolvedAt.Sub(a.FiredAt)) + ")."
	if s := a.Annotations["summary"]; s != "" {
		out["description"] += "\nWhen it last fired: " + s
	}
	return out
}
