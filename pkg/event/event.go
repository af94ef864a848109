// Package event holds the delivery event: one delivery attempt as read from
// an MTA log, and the closed sets of statuses and classes that become JSON
// values and metric label values. It imports nothing from ppwatch.
package event

import (
	"strings"
	"time"
)

// Status is the MTA's own verdict on an attempt.
type Status string

const (
	Delivered Status = "delivered"
	Deferred  Status = "deferred"
	Bounced   Status = "bounced"
)

// Class says why an attempt did not deliver. The set is fixed: the values are
// metric label values and users' dashboards depend on them.
type Class string

const (
	ClassNone       Class = "none"       // delivered
	ClassReputation Class = "reputation" // PDR, IP/domain reputation, blocklists
	ClassRateLimit  Class = "rate_limit" // too many connections/messages/recipients, throttling
	ClassContent    Class = "content"    // spam, virus, content, size
	ClassPolicy     Class = "policy"     // gateway or customer policy, relaying denied
	ClassAuth       Class = "auth"       // SPF, DKIM, DMARC, PTR
	ClassRecipient  Class = "recipient"  // unknown, invalid, full or disabled mailbox
	ClassConnection Class = "connection" // no SMTP reply: timeout, refused, closed, TLS
	ClassOther      Class = "other"
)

// Classes lists every class in a stable order (for reports and label values).
var Classes = []Class{
	ClassNone, ClassReputation, ClassRateLimit, ClassContent, ClassPolicy,
	ClassAuth, ClassRecipient, ClassConnection, ClassOther,
}

// Statuses lists every status in a stable order.
var Statuses = []Status{Delivered, Deferred, Bounced}

// ValidClass reports whether c is one of Classes.
func ValidClass(c Class) bool {
	for _, k := range Classes {
		if k == c {
			return true
		}
	}
	return false
}

// MTA names, as used in the mta field and the --mta flag.
const (
	Postfix = "postfix"
	Exim    = "exim"
	PMTA    = "pmta"
)

// Delivery is one delivery attempt. The JSON field names are a public
// contract (ppwatch parse, the HTTP API, users' scripts).
type Delivery struct {
	Time     time.Time `json:"time"` // always UTC
	MTA      string    `json:"mta"`
	Host     string    `json:"host"`     // syslog host name, "" when the log names none
	Instance string    `json:"instance"` // syslog name, Exim transport or PowerMTA vmta
	QueueID  string    `json:"queue_id"`
	Sender   string    `json:"sender"`
	// MessageID is the message's Message-ID header without its angle
	// brackets, when the log names it: Postfix's cleanup line, Exim's "<="
	// id=, a PowerMTA header_Message-Id column.
	MessageID       string `json:"message_id,omitempty"`
	Recipient       string `json:"recipient"`
	OrigRecipient   string `json:"orig_recipient,omitempty"`
	RecipientDomain string `json:"recipient_domain"` // lower case
	RelayHost       string `json:"relay_host"`
	RelayIP         string `json:"relay_ip"`
	SourceIP        string `json:"source_ip"` // "" when unknown
	Status          Status `json:"status"`
	SMTPCode        int    `json:"smtp_code"`     // 0 when there was no SMTP reply
	EnhancedCode    string `json:"enhanced_code"` // from the reply, else the MTA's DSN field
	Response        string `json:"response"`      // the remote reply (or the MTA's reason), verbatim
	Proofpoint      bool   `json:"proofpoint"`
	Class           Class  `json:"class"`
	Rule            string `json:"rule"` // id of the rule that decided Class
}

// IsBlock reports whether d is a block: a Proofpoint attempt with a 5xx reply
// whose class is not recipient.
func (d *Delivery) IsBlock() bool {
	return d.Proofpoint && IsBlockReply(d.SMTPCode, d.Class)
}

// OtherDomain is the recipient_domain of the attempts counted without
// their domain's name: outside the metrics' top N, or past the state
// file's bound. It has no dot, so no real domain is named so.
const OtherDomain = "other"

// Series is what one attempt is counted under, in the state file and in
// the daemon's figures alike. RecipientDomain is set for Proofpoint
// attempts only (other domains are never labels); Outcome is
// Delivery.Outcome.
type Series struct {
	MTA, SourceIP, RecipientDomain, Status, Class string
	Proofpoint                                    bool
	Outcome                                       string
}

// Reply is one distinct Proofpoint reply, verbatim, seen from one source
// IP for one recipient domain: as the state file keeps it, the alert
// rules read it and the IP API shows it (field names are a public
// contract there).
type Reply struct {
	SourceIP        string    `json:"source_ip"`
	RecipientDomain string    `json:"recipient_domain"`
	Response        string    `json:"response"`
	SMTPCode        int       `json:"smtp_code"`
	EnhancedCode    string    `json:"enhanced_code"`
	Class           string    `json:"class"`
	Count           uint64    `json:"count"`
	FirstSeen       time.Time `json:"first_seen"` // UTC
	LastSeen        time.Time `json:"last_seen"`
}

// Outcomes of a Proofpoint attempt, beside the status: a block needs the
// SMTP code and the class, which the status alone does not give (a 5xx
// banner block is logged as deferred).
const (
	OutcomeBlock    = "block"
	OutcomeDeferral = "deferral"
)

// Outcome is OutcomeBlock, OutcomeDeferral or "" (neither, or not a
// Proofpoint attempt): the one place an attempt's outcome is decided.
func (d *Delivery) Outcome() string {
	if !d.Proofpoint {
		return ""
	}
	return ReplyOutcome(d.SMTPCode, d.Class)
}

// ReplyOutcome is Outcome for a Proofpoint receiver's reply with this code
// and class: the state file judges its stored replies by it, as attempts
// are judged.
func ReplyOutcome(code int, class Class) string {
	switch {
	case IsBlockReply(code, class):
		return OutcomeBlock
	case code >= 400 && code <= 499:
		return OutcomeDeferral
	}
	return ""
}

// IsBlockReply reports whether a Proofpoint receiver's reply with this code
// and class is a block; stored replies are judged by it as attempts are.
func IsBlockReply(code int, class Class) bool {
	return code >= 500 && code <= 599 && class != ClassRecipient
}

// IsDeferral reports whether d is a deferral: a Proofpoint attempt with a 4xx reply.
func (d *Delivery) IsDeferral() bool {
	return d.Proofpoint && d.SMTPCode >= 400 && d.SMTPCode <= 499
}

// Delays reports whether Proofpoint's reply in d delays its message: a
// deferral, or a 5xx the MTA logged as deferred because it will try again
// (Postfix after a 554 greeting). An attempt without a reply (a timeout, a
// dropped connection) does not: nothing says it was Proofpoint's doing.
func (d *Delivery) Delays() bool {
	return d.IsDeferral() || d.Proofpoint && d.Status == Deferred && d.SMTPCode != 0
}

// DomainOf returns the lower-cased domain of an address ("" when it has
// none); non-ASCII (SMTPUTF8) domains are lower-cased too. One pass from the
// end finds the '@' and whether anything needs lowering: it runs for every
// attempt.
func DomainOf(addr string) string {
	lower := true
	for i := len(addr) - 1; i >= 0; i-- {
		c := addr[i]
		if c == '@' {
			d := addr[i+1:]
			if n := len(d); n > 0 && d[n-1] == '.' {
				d = d[:n-1]
			}
			if d == "" {
				return ""
			}
			if !lower {
				return strings.ToLower(d)
			}
			return d
		}
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			lower = false
		}
	}
	return ""
}

// Sample is one failed attempt as the evidence packet shows it: when,
// where, which message to whom, and the reply verbatim. Its JSON is part
// of ppwatch report's (field names are a public contract).
type Sample struct {
	Time      time.Time `json:"time"`
	Host      string    `json:"host"`
	QueueID   string    `json:"queue_id"`
	MessageID string    `json:"message_id"`
	Sender    string    `json:"sender"`
	Recipient string    `json:"recipient"`
	Status    Status    `json:"status"`
	Response  string    `json:"response"`
}

// SampleOf is d's sample, its strings copied: d may alias a read buffer.
func SampleOf(d *Delivery) Sample {
	return Sample{Time: d.Time, Host: strings.Clone(d.Host), QueueID: strings.Clone(d.QueueID), MessageID: strings.Clone(d.MessageID),
		Sender: strings.Clone(d.Sender), Recipient: strings.Clone(d.Recipient), Status: d.Status, Response: strings.Clone(d.Response)}
}
