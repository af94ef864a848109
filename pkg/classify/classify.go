// Package classify decides whether a delivery attempt went to a Proofpoint
// receiver and why it failed. It is pure: a rule table (rules.go) over the
// reply text, then the codes. Users' rules from the config file are tried
// before the built-in ones.
package classify

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// UserRule is a rule from the config file: a regular expression on the
// reply, matched case-insensitively.
type UserRule struct {
	ID         string
	Match      string
	Class      event.Class
	Proofpoint bool // a match marks the attempt as Proofpoint
}

// Options extend the built-in knowledge.
type Options struct {
	Hosts    []string // extra Proofpoint host patterns: "pps1.example.edu", "*.pps.example.net"
	Domains  []string // recipient domains known to be behind Proofpoint ("example.edu", "*.example.edu")
	Networks []string // extra Proofpoint relay address ranges ("192.0.2.0/24", "2001:db8::/32")
	Rules    []UserRule
}

// Classifier holds compiled rules. It is not safe for concurrent use (it
// keeps a cache); give each goroutine its own.
type Classifier struct {
	hostSuffixes []string // ".pphosted.com"; a host matches if it ends with one or equals it without the dot
	hostExact    map[string]bool
	textHosts    []string // lower-case host names looked for in reply text
	domains      map[string]bool
	domainSuffix []string
	user         []compiledRule

	// Replies repeat (one block text per IP, hour after hour): remember the
	// verdict per distinct reply, up to cacheSize entries. The key is built
	// in keyBuf (code, enhanced code, reply with the digits of bracketed
	// addresses left out), so a lookup allocates nothing.
	cache  map[string]verdict
	keyBuf []byte

	// The last relay host asked and its answer: consecutive attempts go
	// to the same few receivers. The name is copied, since events may
	// alias a read buffer.
	lastHost   [64]byte
	lastHostN  int
	lastHostPP bool

	// learned tells of a recipient domain nothing else marks whether it
	// was learned to be behind Proofpoint (the daemon's MX lookups).
	learned func(domain string) bool

	networks []netip.Prefix
	lastIP   [45]byte // the longest IPv6 text
	lastIPN  int
	lastIPPP bool
}

const cacheSize = 4096

type verdict struct {
	class      event.Class
	rule       string
	proofpoint bool // a marker in the text, or a user rule that says so
}

type compiledRule struct {
	UserRule
	re *regexp.Regexp
}

// DefaultHosts are Proofpoint's hosted and Essentials MX names and its
// internal hops.
var DefaultHosts = []string{"*.pphosted.com", "*.ppe-hosted.com", "*.ppops.net"}

// New compiles opts. Errors name the rule by its index and id.
func New(opts Options) (*Classifier, error) {
	c := &Classifier{hostExact: map[string]bool{}, domains: map[string]bool{}, cache: map[string]verdict{}}
	for _, h := range append(append([]string{}, DefaultHosts...), opts.Hosts...) {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			c.hostSuffixes = append(c.hostSuffixes, "."+rest)
			c.textHosts = append(c.textHosts, "."+rest)
		} else {
			c.hostExact[h] = true
			c.textHosts = append(c.textHosts, h)
		}
	}
	c.networks = append(c.networks, DefaultNetworks...)
	for i, n := range opts.Networks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, fmt.Errorf("network %d: %q is not a CIDR prefix", i+1, n)
		}
		c.networks = append(c.networks, p.Masked())
	}
	for _, d := range opts.Domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if rest, ok := strings.CutPrefix(d, "*."); ok {
			c.domainSuffix = append(c.domainSuffix, "."+rest)
		} else {
			c.domains[d] = true
		}
	}
	for i, r := range opts.Rules {
		if !event.ValidClass(r.Class) {
			return nil, fmt.Errorf("rule %d (%s): unknown class %q", i+1, r.ID, r.Class)
		}
		re, err := regexp.Compile("(?i)" + r.Match)
		if err != nil {
			return nil, fmt.Errorf("rule %d (%s): match: %v", i+1, r.ID, err)
		}
		c.user = append(c.user, compiledRule{UserRule: r, re: re})
	}
	return c, nil
}

// SetLearned makes the classifier ask learned about each recipient domain
// that neither the relay's name and address nor the configured domains
// mark as Proofpoint's: the daemon's domains learned from their MX records.
// What it answers marks attempts from then on; counts already made stay.
// learned is called on the classifier's goroutine and must be quick.
func (c *Classifier) SetLearned(learned func(domain string) bool) { c.learned = learned }

// Classify sets ev.Proofpoint, ev.Class and ev.Rule.
func (c *Classifier) Classify(ev *event.Delivery) {
	pp := c.isProofpointHost(ev.RelayHost) || c.isProofpointDomain(ev.RecipientDomain) || c.inNetworks(ev.RelayIP) ||
		c.learned != nil && ev.RecipientDomain != "" && c.learned(ev.RecipientDomain)
	if ev.Status == event.Delivered {
		ev.Class, ev.Rule = event.ClassNone, "delivered"
		ev.Proofpoint = pp || c.hasMarker(ev.Response)
		return
	}
	c.keyBuf = c.cacheKey(c.keyBuf[:0], ev)
	v, ok := c.cache[string(c.keyBuf)]
	if !ok {
		v = c.decide(ev)
		if len(c.cache) >= cacheSize {
			clear(c.cache)
		}
		c.cache[string(c.keyBuf)] = v
	}
	ev.Class, ev.Rule, ev.Proofpoint = v.class, v.rule, pp || v.proofpoint
}

// cacheKey appends the cache key of ev to b. Connection failures name the
// address they tried ("lost connection with mx.example[203.0.113.7] while
// …"), so their texts are as many as the receivers' addresses; no built-in
// rule reads those digits, so they are left out of the key and one verdict
// serves every address of a host. A user's rule may match them: then the
// reply is the key as it is.
func (c *Classifier) cacheKey(b []byte, ev *event.Delivery) []byte {
	b = append(b, byte(ev.SMTPCode>>8), byte(ev.SMTPCode))
	b = append(b, ev.EnhancedCode...)
	b = append(b, 0)
	if len(c.user) > 0 {
		return append(b, ev.Response...)
	}
	s := ev.Response
	for {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i+1]...)
		s = s[i+1:]
		j := 0
		for j < len(s) && (isHexDigit(s[j]) || s[j] == '.' || s[j] == ':') {
			j++
		}
		if j < len(s) && s[j] == ']' {
			s = s[j:] // an address: its digits left out
		}
	}
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (c *Classifier) decide(ev *event.Delivery) verdict {
	v := verdict{proofpoint: c.hasMarker(ev.Response)}
	for i := range c.user {
		r := &c.user[i]
		if r.re.MatchString(ev.Response) {
			v.class, v.rule = r.Class, r.ID
			v.proofpoint = v.proofpoint || r.Proofpoint
			return v
		}
	}
	if r := match(judged(toLower(ev.Response)), ev.SMTPCode); r != nil {
		v.class, v.rule = r.Class, r.ID
		return v
	}
	v.class, v.rule = byCode(ev.SMTPCode, ev.EnhancedCode)
	return v
}

func match(text string, code int) *Rule {
	t := newText(text)
	for i := range builtin {
		r := &builtin[i]
		switch r.Codes {
		case noReply:
			if code != 0 {
				continue
			}
		case code4xx:
			if code < 400 || code > 499 {
				continue
			}
		}
		if t.containsAny(r.Any) && t.containsAll(r.All) {
			return r
		}
	}
	return nil
}

// judged is the text the rules read: a multi-line reply joined into one
// ("550-5.7.1 … not authorized to 550-5.7.1 send email …", Exim's literal
// "\n550 5.7.1 …") without its repeated codes, so phrases that wrap still
// match; and without the address before a generic prefix ("<spam@x>:
// Recipient address rejected: …"), which is not a reason.
func judged(lower string) string {
	if len(lower) > 4 && lower[3] == '-' {
		code := lower[:3]
		enh := ""
		if i := strings.IndexByte(lower[4:], ' '); i > 0 && lower[4] >= '2' && lower[4] <= '5' && lower[5] == '.' {
			enh = lower[4 : 4+i]
		}
		for _, sep := range []string{" " + code + "-", " " + code + " ", `\n` + code + "-", `\n` + code + " "} {
			if enh != "" && strings.Contains(lower, sep+enh+" ") {
				lower = strings.ReplaceAll(lower, sep+enh+" ", " ")
			}
			lower = strings.ReplaceAll(lower, sep, " ")
		}
	}
	first := -1
	for _, p := range genericPrefixes {
		if i := strings.Index(lower, p); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first <= 0 {
		return lower
	}
	// "<bob@example.com>: ", "[bob@example.com]: ", "<host[192.0.2.1]>: "
	head := strings.TrimRight(lower[:first], ": ")
	if head == "" || head[len(head)-1] != '>' && head[len(head)-1] != ']' {
		return lower
	}
	open := strings.LastIndexByte(head, '<')
	if head[len(head)-1] == ']' {
		open = strings.LastIndexByte(head, '[')
	}
	if open < 0 || strings.ContainsAny(head[open:], " \t") {
		return lower
	}
	return lower[:open] + lower[first:]
}

// IsProofpointHost reports whether host (an MX or relay name) matches
// Proofpoint's host patterns: the built-in ones and Options.Hosts. Unlike
// Classify it keeps no cache, so it is safe for concurrent use.
func (c *Classifier) IsProofpointHost(host string) bool { return c.hostMatches(host) }

func (c *Classifier) isProofpointHost(host string) bool {
	if c.lastHostN > 0 && host == string(c.lastHost[:c.lastHostN]) {
		return c.lastHostPP
	}
	pp := c.hostMatches(host)
	if len(host) <= len(c.lastHost) {
		c.lastHostN = copy(c.lastHost[:], host)
		c.lastHostPP = pp
	}
	return pp
}

func (c *Classifier) hostMatches(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return false
	}
	// Every attempt asks: compare in place rather than lower-case a copy.
	for _, s := range c.hostSuffixes {
		if hasSuffixFold(host, s) || len(host) == len(s)-1 && hasSuffixFold(host, s[1:]) {
			return true
		}
	}
	return len(c.hostExact) > 0 && c.hostExact[toLower(host)]
}

// hasSuffixFold reports whether s ends in the lower-case ASCII suffix,
// ignoring ASCII case. It compares from the end, where other receivers'
// names differ within a few bytes.
func hasSuffixFold(s, suffix string) bool {
	if len(s) < len(suffix) {
		return false
	}
	s = s[len(s)-len(suffix):]
	for i := len(s) - 1; i >= 0; i-- {
		if c := s[i]; c != suffix[i] && !(c >= 'A' && c <= 'Z' && c+('a'-'A') == suffix[i]) {
			return false
		}
	}
	return true
}

func (c *Classifier) isProofpointDomain(d string) bool {
	if d == "" || len(c.domains) == 0 && len(c.domainSuffix) == 0 {
		return false
	}
	if c.domains[d] {
		return true
	}
	for _, s := range c.domainSuffix {
		if strings.HasSuffix(d, s) {
			return true
		}
	}
	return false
}

// hasMarker looks for Proofpoint's own wording or host names in the reply
// or connection text: some organisations run Proofpoint under their own MX
// names, and postfix/error lines name the host only in the text.
func (c *Classifier) hasMarker(text string) bool {
	if len(c.textHosts) == len(DefaultHosts) && !mayHaveMarker(text) {
		return false
	}
	lower := toLower(text)
	return containsAny(lower, markers) || containsAny(lower, c.textHosts)
}

// mayHaveMarker is a cheap first look: every built-in marker holds "pp" or
// "roofpoint" in some case. Most replies of delivered mail hold neither.
func mayHaveMarker(s string) bool {
	// A byte search per case beats a loop over every byte of every reply.
	for _, p := range [2]byte{'p', 'P'} {
		for rest := s; ; {
			i := strings.IndexByte(rest, p)
			if i < 0 || i+1 >= len(rest) {
				break
			}
			if rest[i+1]|0x20 == 'p' || i+10 <= len(rest) && strings.EqualFold(rest[i+1:i+10], "roofpoint") {
				return true
			}
			rest = rest[i+1:]
		}
	}
	return false
}

// text is a reply the rule table is tried on, with the set of the byte
// pairs it holds (hashed into 4,096 bits): a word whose first pair is not
// in the set cannot be in the text, so most of the table's words are ruled
// out without a substring search. A reply the cache does not know walks
// the whole table: 35,000 instructions without the set, a few thousand
// with it.
type text struct {
	s     string
	pairs [64]uint64
}

func newText(s string) *text {
	t := &text{s: s}
	for i := 0; i+1 < len(s); i++ {
		h := pairHash(s[i], s[i+1])
		t.pairs[h>>6] |= 1 << (h & 63)
	}
	return t
}

func pairHash(a, b byte) uint { return (uint(a)*31 + uint(b)) & 4095 }

func (t *text) contains(w string) bool {
	if len(w) >= 2 {
		if h := pairHash(w[0], w[1]); t.pairs[h>>6]&(1<<(h&63)) == 0 {
			return false
		}
	}
	return strings.Contains(t.s, w)
}

func (t *text) containsAny(words []string) bool {
	for _, w := range words {
		if t.contains(w) {
			return true
		}
	}
	return false
}

func (t *text) containsAll(words []string) bool {
	for _, w := range words {
		if !t.contains(w) {
			return false
		}
	}
	return true
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// toLower avoids the allocation when s has no upper-case ASCII.
func toLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

// SourceIP returns the sending IP that a reply names, "" when none. Only
// wordings that name the connecting client count: "?ip=" (ipcheck and
// dnsbl-lookup links), "dnsbl-lookup.cgi?" (a customised form without
// "ip="), "Mail from A.B.C.D", "client [A.B.C.D]", "Client host [A.B.C.D]",
// "Your IP A.B.C.D", "IP address A.B.C.D", "Messages from A.B.C.D", and a
// bracketed address right after the reply codes ("421-4.7.0 [A.B.C.D]").
// Any other bracketed address may be the receiver's own, or a host further
// down: a gateway passing on its customer's server's reply ("… host
// mail.example[203.0.113.77] said: 550 …") names that server, and that
// server's words name the gateway, so nothing after a nested "said:" is
// read. relayIP is never returned.
func SourceIP(reply, relayIP string) string {
	// The usual case, without lowering the whole reply.
	if i := strings.Index(reply, "?ip="); i >= 0 {
		if j := strings.Index(reply, " said:"); j < 0 || i < j {
			if ip := leadingIP(reply[i+4:]); ip != "" && ip != relayIP {
				return ip
			}
		}
	}
	lower := toLower(reply)
	if j := strings.Index(lower, " said:"); j >= 0 {
		lower, reply = lower[:j], reply[:j]
	}
	if ip := afterCodes(reply); ip != "" && ip != relayIP {
		return ip
	}
	for _, key := range clientKeys {
		from := 0
		for {
			i := strings.Index(lower[from:], key)
			if i < 0 {
				break
			}
			start := from + i + len(key)
			from = start
			if start < len(reply) && (reply[start] == '[' || reply[start] == '(') {
				start++
			}
			if ip := leadingIP(reply[start:]); ip != "" && ip != relayIP {
				return ip
			}
		}
	}
	return ""
}

// clientKeys are the lower-case wordings after which receivers write the
// connecting client's address (with or without "[" or "(").
var clientKeys = []string{
	"?ip=", "lookup.cgi?", "mail from ip ", "mail from ", "messages from ", "client host ", "client ", "client address ",
	"your ip address ", "your ip ", "ip address ", "sending ip ", "sender ip ", "ip=", "ip: ", "connections will not be accepted from ",
	"the mail server ", "try again later from ", "banned sending ip ", "banned sender", "relay=",
}

// afterCodes reads "[A.B.C.D]" right after a reply's codes, where Gmail
// names the client ("421-4.7.0 [192.0.2.1      15] Our system …").
func afterCodes(reply string) string {
	s := reply
	if len(s) < 4 || s[0] < '2' || s[0] > '5' || s[3] != ' ' && s[3] != '-' {
		return ""
	}
	s = s[4:]
	if len(s) > 5 && s[0] >= '2' && s[0] <= '5' && s[1] == '.' {
		if i := strings.IndexByte(s, ' '); i > 0 {
			s = s[i+1:]
		}
	}
	if s == "" || s[0] != '[' {
		return ""
	}
	return leadingIP(s[1:])
}

// leadingIP reads an address at the start of s; what follows it (":" and a
// recipient, ")", "\"", "]", ".") is cut.
func leadingIP(s string) string {
	n := 0
	for n < len(s) && n < 45 {
		c := s[n]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':' {
			n++
			continue
		}
		break
	}
	cand := s[:n]
	if n < len(s) && s[n] == '@' {
		// "?ip=2001:db8::1:abc@example.com": hex letters of the recipient's
		// local part were read as part of the address.
		if i := strings.LastIndexByte(cand, ':'); i > 0 {
			cand = cand[:i]
		}
	}
	cand = strings.TrimRight(cand, ".:")
	for cand != "" {
		if a, err := netip.ParseAddr(cand); err == nil {
			if a.IsUnspecified() {
				return ""
			}
			return a.String()
		}
		// "2001:db8::1:abc@example.com" read too far: shorten at a colon.
		i := strings.LastIndexByte(cand, ':')
		if i < 0 {
			return ""
		}
		cand = strings.TrimRight(cand[:i], ":")
	}
	return ""
}
