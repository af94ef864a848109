package smtpfake

// Answer is one refusal the server gave.
type Answer struct {
	Client string // client IP
	Stage  Stage
	Code   int // the reply's code; 0 when the connection was closed without a reply
	// Reply is the reply as sent ({ip} replaced), its lines joined by " "
	// with their codes ("550-5.7.1 one 550 5.7.1 two"), the way Postfix
	// logs a multi-line reply.
	Reply string
}

// Tally is what the server answered, for a test to compare with what
// ppwatch counted.
type Tally struct {
	// Answers counts every non-2xx answer: per recipient at Rcpt; at Data
	// once per accepted recipient of the transaction; at Banner and EHLO
	// once per answer.
	Answers map[Answer]int
	// Delivered lists the accepted messages (a 2xx at the end of DATA), one
	// entry per accepted recipient, in the order accepted.
	Delivered []Delivery
}

// Delivery is a message accepted for one recipient.
type Delivery struct {
	Client    string
	From      string // as in MAIL FROM, without the angle brackets
	Rcpt      string // lowercased, as rules see it, without the angle brackets
	MessageID string // the Message-ID header, with its angle brackets; "" when there is none
	Size      int    // bytes of the message after dot-unstuffing, lines ending in CRLF
	// Attempts is how many non-2xx answers this recipient got from this
	// client before: at Data for this message, at Rcpt for any (the
	// message is not seen yet when RCPT is refused).
	Attempts int
}

// Count sums the answers with code to client over all stages; client ""
// is any client.
func (t Tally) Count(client string, code int) int {
	n := 0
	for a, c := range t.Answers {
		if a.Code == code && (client == "" || a.Client == client) {
			n += c
		}
	}
	return n
}

// DeliveredFrom is how many recipients accepted a message from client.
func (t Tally) DeliveredFrom(client string) int {
	n := 0
	for _, d := range t.Delivered {
		if d.Client == client {
			n++
		}
	}
	return n
}
