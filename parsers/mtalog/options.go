package mtalog

import "time"

// Options configure a parser; every MTA's constructor takes them, so the
// MTA table can build any parser from the same settings.
type Options struct {
	Reference time.Time        // no year-less timestamp is placed after it
	Now       func() time.Time // when set, the reference is its value at each new timestamp (the daemon)
	Location  *time.Location   // zone of zone-less timestamps; nil means Local
	// MaxSenders caps the envelope-sender correlator of the MTAs that need
	// one; 0 means DefaultMaxSenders, < 0 disables it (senders stay "").
	MaxSenders int
	// Correlator, when set, is the correlator to use instead of a new one:
	// the daemon gives the parsers of one input's files the same, so a
	// message that arrived in a file rotated away keeps its sender and
	// Message-ID in the next (Postfix logs the Message-ID once, at arrival).
	Correlator *Senders
}

// Clock returns the clock these options describe.
func (o Options) Clock() Clock {
	return Clock{Reference: o.Reference, Location: o.Location, Now: o.Now}
}

// Senders returns the correlator these options describe, nil when disabled.
func (o Options) Senders() *Senders {
	switch {
	case o.Correlator != nil:
		return o.Correlator
	case o.MaxSenders < 0:
		return nil
	case o.MaxSenders == 0:
		return NewSenders(DefaultMaxSenders)
	}
	return NewSenders(o.MaxSenders)
}
