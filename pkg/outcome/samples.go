package outcome

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// What the daemon keeps of each sending IP's Proofpoint failures for the
// evidence packet, beside the counts: sample attempts (the first and the
// latest, with their Message-ID and envelope sender, as the log said
// them) and the envelope senders and their domains seen.
const (
	SamplesFirst  = 5 // the first failures of an IP kept for good
	SamplesLatest = 5 // and its latest
	MaxSenders    = 20
	maxSampleIPs  = 1000               // IPs with samples; more are not sampled
	figSamples    = "outcome.samples:" // + source IP -> JSON {first, latest}
	figSenders    = "outcome.senders:" // + source IP -> JSON {sender: attempts}
)

type ipSamples struct {
	ip      string         // the map's own key: ev's may alias a read buffer
	First   []event.Sample `json:"first"`
	Latest  []event.Sample `json:"latest"` // oldest first
	Senders map[string]int `json:"-"`
}

// sample keeps a failure of ev's IP; called with t.mu held.
func (t *Tracker) sample(ev *event.Delivery) {
	s := t.samples[ev.SourceIP]
	if s == nil {
		if len(t.samples) >= maxSampleIPs {
			return
		}
		s = &ipSamples{ip: strings.Clone(ev.SourceIP), Senders: map[string]int{}}
		t.samples[s.ip] = s
	}
	ip := s.ip
	d := event.SampleOf(ev)
	if len(s.First) < SamplesFirst {
		s.First = append(s.First, d)
	} else {
		s.Latest = append(s.Latest, d)
		if len(s.Latest) > SamplesLatest {
			s.Latest = slices.Delete(s.Latest, 0, 1)
		}
	}
	if n, ok := s.Senders[ev.Sender]; ok {
		s.Senders[strings.Clone(ev.Sender)] = n + 1 // a map assignment keeps the key given
	} else if ev.Sender != "" && len(s.Senders) < MaxSenders {
		s.Senders[strings.Clone(ev.Sender)] = 1
	}
	t.dirtySamples[ip] = true
}

// samplesChanges adds the changed IPs' samples and senders to out;
// called with t.mu held.
func (t *Tracker) samplesChanges(out map[string][]byte) {
	for ip := range t.dirtySamples {
		s := t.samples[ip]
		if b, err := json.Marshal(s); err == nil {
			out[figSamples+ip] = b
		}
		if b, err := json.Marshal(s.Senders); err == nil {
			out[figSenders+ip] = b
		}
	}
	clear(t.dirtySamples)
}

// restoreSamples reads one samples or senders figure back; called with
// t.mu held.
func (t *Tracker) restoreSamples(k string, v []byte) error {
	get := func(ip string) *ipSamples {
		s := t.samples[ip]
		if s == nil {
			s = &ipSamples{ip: ip, Senders: map[string]int{}}
			t.samples[ip] = s
		}
		return s
	}
	if ip, ok := strings.CutPrefix(k, figSamples); ok {
		s := get(ip)
		senders := s.Senders
		if err := json.Unmarshal(v, s); err != nil {
			return errCorrupt
		}
		s.Senders = senders
		return nil
	}
	s := get(strings.TrimPrefix(k, figSenders))
	if err := json.Unmarshal(v, &s.Senders); err != nil {
		return errCorrupt
	}
	return nil
}

// Samples are an IP's sample failures (the first, then the latest, in
// time order) and its envelope senders, most attempts first.
func (t *Tracker) Samples(ip string) ([]event.Sample, []Sender) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.samples[ip]
	if s == nil {
		return nil, nil
	}
	out := append(slices.Clone(s.First), s.Latest...)
	var senders []Sender
	for n, c := range s.Senders {
		senders = append(senders, Sender{n, c})
	}
	slices.SortFunc(senders, func(a, b Sender) int {
		return cmp.Or(cmp.Compare(b.Attempts, a.Attempts), cmp.Compare(a.Address, b.Address))
	})
	return out, senders
}

// Sender is an envelope sender and its Proofpoint failures.
type Sender struct {
	Address  string
	Attempts int
}

// SenderDomains are the envelope-sender domains of the failures kept,
// over every IP, with their failures: what the sender checks look at
// beside the configured domains.
func (t *Tracker) SenderDomains() map[string]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]uint64{}
	for _, s := range t.samples {
		for sender, n := range s.Senders {
			if d := event.DomainOf(sender); d != "" {
				out[d] += uint64(n)
			}
		}
	}
	return out
}
