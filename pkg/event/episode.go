package event

import "time"

// Episode is one run of Proofpoint blocks, or of Proofpoint deferrals, from
// one source IP, over all its recipient domains or to one of them: it
// opens at the first failure of its kind after a quiet period and closes
// once a quiet period of event time has passed without one. Blocks and
// deferrals make separate episodes, so an IP that is first delayed and
// then blocked shows a deferral episode and, overlapping it, a block
// episode: each is its own delisting case. As the state file keeps it and
// the IP API shows it (field names are a public contract there).
type Episode struct {
	SourceIP        string    `json:"source_ip"`
	RecipientDomain string    `json:"recipient_domain"` // "" for the IP's episodes over all its domains
	Kind            string    `json:"kind"`             // OutcomeBlock or OutcomeDeferral
	Start           time.Time `json:"start"`            // the first failure, UTC
	End             time.Time `json:"end"`              // the latest failure
	// Open is true while less than the quiet period of event time (the
	// latest event time read) has passed since End.
	Open bool `json:"open"`
	// The failures of the episode's own kind are counted exactly; the
	// other kind and the attempts (every outcome, the failures included)
	// are those of the minutes from Start's to End's.
	Attempts  uint64 `json:"attempts"`
	Blocks    uint64 `json:"blocks"`
	Deferrals uint64 `json:"deferrals"`
	// Domains are the failures of the episode's kind per recipient domain,
	// the first ones met by name and the rest under OtherDomain.
	Domains []EpisodeDomain `json:"domains"`
	// Reply is the most frequent reply of the episode's failures, verbatim,
	// with its count, codes, class and when it was first and last seen in
	// the episode.
	Reply Reply `json:"reply"`
}

// EpisodeDomain counts an episode's failures to one recipient domain.
type EpisodeDomain struct {
	Domain   string `json:"recipient_domain"`
	Failures uint64 `json:"failures"`
}

// IPHistory is what the state file knows of a sending IP's past, as the IP
// API shows it.
type IPHistory struct {
	SourceIP  string    `json:"source_ip"`
	FirstSeen time.Time `json:"first_seen"` // the minute of its first attempt read, UTC; zero when none
	// Days are the attempts (all of them, Proofpoint's or not) per UTC day,
	// oldest first, for the days kept; days without attempts are left out.
	Days []DayVolume `json:"days"`
	// Jumps are the days whose attempts are far above those of the days
	// before (see the store's IPHistory), oldest first.
	Jumps []VolumeJump `json:"jumps"`
}

// DayVolume is an IP's attempts on one UTC day.
type DayVolume struct {
	Day      string `json:"day"` // YYYY-MM-DD
	Attempts uint64 `json:"attempts"`
}

// VolumeJump is a day whose attempts jumped: Median is that of the days
// before it that it was compared with.
type VolumeJump struct {
	Day      string  `json:"day"`
	Attempts uint64  `json:"attempts"`
	Median   float64 `json:"median"`
}
