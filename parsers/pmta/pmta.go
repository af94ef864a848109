// Package pmta parses PowerMTA accounting files.
//
// An accounting file is RFC 4180 CSV: fields separated by commas, quoted
// with double quotes when they hold a comma or a quote (a quote inside is
// doubled: "smtp;550 5.7.1 ""x"""), records ended by CRLF. The first line
// is a header naming the columns, and the column set and order depend on
// the acct-file's record-fields setting, so columns are mapped by header
// name, never by position. Unknown columns (header_Message-Id, timeImprinted,
// the feedback-loop columns of a mixed file, ...) are ignored.
//
// Only the record types d (delivered), b (bounced) and t (transient: a
// deferred attempt) are delivery attempts. tq, r, f, rb, rs and any other
// lower-case type word are skipped without allocating; the type column is
// read before anything else for that reason.
//
// Traps:
//
//   - Files are concatenated (cat acct-*.csv), so a header line can appear
//     anywhere: each one re-maps the columns. A header line is not an
//     attempt and not malformed.
//   - The daemon resumes in the middle of a file, where no header has been
//     seen. Until one is, PowerMTA's default field order (DefaultHeader)
//     applies; a caller that resumes mid-file should feed the file's first
//     line to SetHeader.
//   - A record whose column count differs from the header's is damaged (or
//     the header is not the one that applies): malformed, never guessed at.
//   - A record whose type is empty or not a word (a line that lost its
//     first characters: ",2026-11-…") but that has the header's column
//     count is malformed; with another column count it is not recognisably
//     a record at all and is skipped.
//   - timeLogged is "YYYY-MM-DD hh:mm:ss+zzzz" (PowerMTA 4.5+), with "-zz:zz"
//     or without zone (then Options.Location applies), or UNIX time as in
//     older versions ("1795351413", maybe with a fraction).
//   - dsnDiag is "smtp;<reply>" for an SMTP reply: the code and enhanced
//     code are read from the reply ("550-5.7.1 …" multi-line joins too).
//     Without a reply ("smtp;Connection timed out", "No answer from host",
//     a non-smtp diagnostic type) SMTPCode is 0 and EnhancedCode falls back
//     to dsnStatus ("4.4.1 (no answer from host)").
//   - bounceCat is PowerMTA's guess and is not used: it files a Proofpoint
//     PDR block under policy-related, which does not isolate it.
package pmta

import (
	"strconv"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// DefaultHeader is PowerMTA's default record-fields order for d and b
// records. It applies to records read before any header line.
const DefaultHeader = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool"

// The columns this parser reads, as indexes into columns.idx.
const (
	cType = iota
	cTimeLogged
	cOrig
	cRcpt
	cOrcpt
	cDsnStatus
	cDsnDiag
	cDsnMta
	cSourceIP
	cDestIP
	cVmta
	cJobID
	cEnvID
	cMessageID
	nCols
)

var colNames = [nCols]string{
	cType:       "type",
	cTimeLogged: "timeLogged",
	cOrig:       "orig",
	cRcpt:       "rcpt",
	cOrcpt:      "orcpt",
	cDsnStatus:  "dsnStatus",
	cDsnDiag:    "dsnDiag",
	cDsnMta:     "dsnMta",
	cSourceIP:   "dlvSourceIp",
	cDestIP:     "dlvDestinationIp",
	cVmta:       "vmta",
	cJobID:      "jobId",
	cEnvID:      "envId",
	// PowerMTA writes a header's value in a column of its own when the
	// acct-file's record-fields name it (header_Message-Id).
	cMessageID: "header_Message-Id",
}

// columns is a header, mapped.
type columns struct {
	header string       // the header line (owned), for naming columns in errors
	seen   bool         // header came from a header line, not DefaultHeader
	n      int          // columns a record must have
	idx    [nCols]int32 // position of each column this parser reads; -1 when absent
	last   int          // the highest of idx: fields after it are only counted
	kind   []int8       // per position up to last: the column read from it, or -1
}

var defaultColumns = mapHeader(DefaultHeader, false)

func mapHeader(h string, seen bool) columns {
	c := columns{header: h, seen: seen}
	for k := range c.idx {
		c.idx[k] = -1
	}
	for i := 0; i <= len(h); c.n++ {
		start, end, next, _, _ := scanField(h, i)
		name := h[start:end]
		if c.n == 0 && len(name) > 0 && name[0] == '#' {
			name = name[1:]
		}
		for k, want := range colNames {
			if c.idx[k] < 0 && strings.EqualFold(name, want) {
				c.idx[k] = int32(c.n)
				c.last = max(c.last, c.n)
				break
			}
		}
		i = next
	}
	c.kind = make([]int8, c.last+1)
	for i := range c.kind {
		c.kind[i] = -1
	}
	for k, i := range c.idx {
		if i >= 0 {
			c.kind[i] = int8(k)
		}
	}
	return c
}

// name returns the header's name for column i.
func (c *columns) name(i int) string {
	h := c.header
	for col, p := 0, 0; p <= len(h); col++ {
		start, end, next, _, _ := scanField(h, p)
		if col == i {
			if name := h[start:end]; name != "" && name[0] != '#' {
				return name
			}
			break
		}
		p = next
	}
	return "column " + strconv.Itoa(i+1)
}

// span is one field of the current record: line[start:end], the inside of
// the quotes when quoted; esc when it holds doubled quotes.
type span struct {
	start, end int
	esc        bool
}

// Parser reads the lines of one accounting file stream. It keeps the
// current header, so use one Parser per stream, on one goroutine.
type Parser struct {
	clock mtalog.Clock
	utc   mtalog.Clock // for "… hh:mm:ss +0000" where the zone is read apart
	cols  columns
	vals  [nCols]span // the fields of the current record, by column

	// The last timeLogged text and its instant. lastTS is an owned copy:
	// the line aliases the caller's read buffer, whose bytes change, so a
	// substring of it must never be kept (nor handed to Clock, which keeps
	// the text it parsed for the same kind of cache).
	lastTS string
	lastT  time.Time

	// Source addresses seen valid (owned copies, a few): a host sends from
	// a handful of addresses, and each record's would be parsed again.
	sourceIPs []string
}

// maxSourceIPs bounds the remembered source addresses.
const maxSourceIPs = 16

// New returns a Parser that reads records in DefaultHeader order until it
// meets a header line.
//
// Only Reference and Location of opts apply: accounting timestamps carry
// the year, and no correlator is needed (records name their sender).
func New(opts mtalog.Options) *Parser {
	return &Parser{
		clock: mtalog.Clock{Reference: opts.Reference, Location: opts.Location},
		utc:   mtalog.Clock{Reference: opts.Reference, Location: time.UTC},
		cols:  defaultColumns,
	}
}

// SetHeader tells the parser which header applies when it starts reading a
// file in the middle: pass the file's first line. A header line re-maps the
// columns. Any other line resets the parser to DefaultHeader, because a file
// whose first line is a record has no header; the error is then nil when
// the line is a record of the default shape and says so otherwise (the
// parser still uses DefaultHeader).
func (p *Parser) SetHeader(line string) error {
	line = trimLine(line)
	if isHeader(line) {
		p.useHeader(line)
		return nil
	}
	p.cols = defaultColumns
	if Sniff(line) {
		return nil
	}
	return mtalog.Errorf("header", "not a header line (%q); using the default field order", cut(line, 40))
}

func (p *Parser) useHeader(line string) {
	if p.cols.seen && p.cols.header == line {
		return // the same file concatenated again
	}
	p.cols = mapHeader(strings.Clone(line), true)
}

// Sniff reports whether line looks like a line of a PowerMTA accounting
// file: a header ("type,timeLogged…", or with type, rcpt and dsnDiag
// columns), or a record in default order (a record type, then a timestamp).
func Sniff(line string) bool {
	line = trimLine(line)
	if strings.HasPrefix(line, "type,timeLogged") || strings.HasPrefix(line, "#type,timeLogged") {
		return true
	}
	if isHeader(line) {
		return hasName(line, "rcpt") && hasName(line, "dsnDiag")
	}
	c := strings.IndexByte(line, ',')
	if c < 0 {
		return false
	}
	switch line[:c] {
	case "d", "b", "t", "tq", "r", "f", "rb", "rs":
	default:
		return false
	}
	ts := line[c+1:]
	if e := strings.IndexByte(ts, ','); e >= 0 {
		ts = ts[:e]
	}
	if len(ts) >= 19 && ts[4] == '-' && ts[7] == '-' && (ts[10] == ' ' || ts[10] == 'T') && ts[13] == ':' && ts[16] == ':' {
		return allDigits(ts[:4]) && allDigits(ts[5:7]) && allDigits(ts[8:10]) && allDigits(ts[11:13])
	}
	_, ok := unixTime(ts)
	return ok
}

// Parse reads one line; see mtalog.Parser.
func (p *Parser) Parse(line string, ev *event.Delivery) (bool, error) {
	line = trimLine(line)
	typ := p.typeOf(line)
	var status event.Status
	switch typ {
	case "d":
		status = event.Delivered
	case "b":
		status = event.Bounced
	case "t":
		status = event.Deferred
	case "tq", "r", "f", "rb", "rs":
		return false, nil
	default:
		if isHeader(line) {
			p.useHeader(line)
			return false, nil
		}
		return false, p.unknownType(line, typ)
	}
	if err := p.split(line); err != nil {
		return false, err
	}

	ts := p.get(line, cTimeLogged)
	if ts == "" {
		return false, p.missing(cTimeLogged)
	}
	t, err := p.parseTime(ts)
	if err != nil {
		return false, err
	}
	*ev = event.Delivery{}
	ev.Time, ev.MTA, ev.Status = t, event.PMTA, status

	rcpt := trimAngle(p.get(line, cRcpt))
	if rcpt == "" {
		return false, p.missing(cRcpt)
	}
	dom := event.DomainOf(rcpt)
	if dom == "" {
		return false, mtalog.Errorf("rcpt", "no domain in %q", cut(rcpt, 80))
	}
	ev.Recipient, ev.RecipientDomain = rcpt, dom
	ev.Sender = trimAngle(p.get(line, cOrig))
	ev.OrigRecipient = trimAngle(trimPrefixFold(p.get(line, cOrcpt), "rfc822;"))

	if ip := trimBrackets(p.get(line, cSourceIP)); ip != "" {
		if !p.validSourceIP(ip) {
			return false, mtalog.Errorf("dlvSourceIp", "bad IP address %q", cut(ip, 60))
		}
		ev.SourceIP = ip
	}
	ev.RelayHost, ev.RelayIP = splitMta(p.get(line, cDsnMta))
	if ev.RelayIP == "" {
		if ip := trimBrackets(p.get(line, cDestIP)); validIP(ip) {
			ev.RelayIP = ip
		}
	}

	resp, smtp := splitDiag(p.get(line, cDsnDiag))
	ev.Response = resp
	if smtp {
		ev.SMTPCode, ev.EnhancedCode = mtalog.SplitReply(resp)
	}
	if ev.EnhancedCode == "" {
		ev.EnhancedCode = dsnStatus(p.get(line, cDsnStatus))
	}

	ev.Instance = p.get(line, cVmta)
	if ev.QueueID = p.get(line, cEnvID); ev.QueueID == "" {
		ev.QueueID = p.get(line, cJobID)
	}
	if mid := strings.TrimSpace(p.get(line, cMessageID)); len(mid) <= mtalog.MaxMessageIDLen {
		ev.MessageID = strings.TrimSuffix(strings.TrimPrefix(mid, "<"), ">")
	}
	return true, nil
}

// typeOf returns the record type of line under the current header, without
// allocating. It is "" when the line has no such column.
func (p *Parser) typeOf(line string) string {
	want := int(p.cols.idx[cType])
	if want < 0 {
		return ""
	}
	if want == 0 && line != "" && line[0] != '"' { // the usual place, unquoted
		if k := strings.IndexByte(line, ','); k >= 0 {
			return trim(line[:k])
		}
		return trim(line)
	}
	for col, i := 0, 0; i <= len(line); col++ {
		start, end, next, _, _ := scanField(line, i)
		if col == want {
			return trim(line[start:end])
		}
		i = next
	}
	return ""
}

// unknownType decides on a line whose type is none of the known ones and
// that is not a header. A lower-case word is a record type this parser does
// not read (PowerMTA adds types now and then): skip. Anything else is
// malformed when the line has the header's column count, because it is
// then a record that lost its type (a damaged line), and skipped otherwise,
// because it is not recognisably a record.
func (p *Parser) unknownType(line, typ string) error {
	if isTypeWord(typ) || countFields(line) != p.cols.n {
		return nil
	}
	if typ == "" {
		return mtalog.Errorf("type", "empty record type")
	}
	return mtalog.Errorf("type", "unknown record type %q", cut(typ, 20))
}

func isTypeWord(s string) bool {
	if len(s) == 0 || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != '-' {
			return false
		}
	}
	return true
}

// split fills p.vals with the fields of line that columns are read from,
// and counts all of them against the header's column count: past the last
// column read, unquoted fields are only counted.
func (p *Parser) split(line string) error {
	kind := p.cols.kind
	n, i := 0, 0
	// The fields up to the last one a column is read from.
	for ; n < len(kind) && i <= len(line); n++ {
		start, end, next, esc := i, len(line), len(line)+1, false
		if i < len(line) && line[i] == '"' {
			var ok bool
			if start, end, next, esc, ok = scanField(line, i); !ok {
				return p.quoteError(n, next, line)
			}
		} else if k := strings.IndexByte(line[i:], ','); k >= 0 {
			end, next = i+k, i+k+1
		}
		if c := kind[n]; c >= 0 {
			p.vals[c] = span{start: start, end: end, esc: esc}
		}
		i = next
	}
	// The rest are only counted: by their commas up to the field that
	// holds the next quote, which is read as a field.
	for i <= len(line) {
		q := strings.IndexByte(line[i:], '"')
		if q < 0 {
			n += strings.Count(line[i:], ",") + 1
			break
		}
		if c := strings.LastIndexByte(line[i:i+q], ','); c >= 0 {
			n += strings.Count(line[i:i+c], ",") + 1
			i += c + 1
		}
		_, _, next, _, ok := scanField(line, i)
		if !ok {
			return p.quoteError(n, next, line)
		}
		n, i = n+1, next
	}
	if n != p.cols.n {
		if p.cols.seen {
			return mtalog.Errorf("record", "%d columns, the header has %d", n, p.cols.n)
		}
		return mtalog.Errorf("record", "%d columns, the default field order has %d (no header line seen)", n, p.cols.n)
	}
	return nil
}

func (p *Parser) quoteError(n, next int, line string) error {
	reason := "unterminated quoted field"
	if next <= len(line) {
		reason = "text after the closing quote"
	}
	return mtalog.Errorf(p.cols.name(n), "%s", reason)
}

// get returns column k of the split line, unquoted and trimmed; "" when the
// header has no such column.
func (p *Parser) get(line string, k int) string {
	if p.cols.idx[k] < 0 {
		return ""
	}
	sp := p.vals[k] // split checked the record has every column
	v := line[sp.start:sp.end]
	if sp.esc {
		v = strings.ReplaceAll(v, `""`, `"`)
	}
	return trim(v)
}

func (p *Parser) missing(k int) error {
	if p.cols.idx[k] < 0 {
		return mtalog.Errorf(colNames[k], "no %s column in the header", colNames[k])
	}
	return mtalog.Errorf(colNames[k], "empty")
}

// scanField reads the field that starts at i: line[start:end] is its text
// (inside the quotes when quoted), next is where the following field starts
// (len(s)+1 after the last one). ok is false for a quoted field that is not
// closed (next = len(s)+1) or is followed by other text than a comma (next
// at that text). A quote inside an unquoted field is kept as text: PowerMTA
// does not write one, and a lenient reading costs nothing.
func scanField(s string, i int) (start, end, next int, esc, ok bool) {
	if i < len(s) && s[i] == '"' {
		j := i + 1
		for {
			k := strings.IndexByte(s[j:], '"')
			if k < 0 {
				return i + 1, len(s), len(s) + 1, esc, false
			}
			j += k
			if j+1 < len(s) && s[j+1] == '"' {
				esc = true
				j += 2
				continue
			}
			switch {
			case j+1 == len(s):
				return i + 1, j, len(s) + 1, esc, true
			case s[j+1] == ',':
				return i + 1, j, j + 2, esc, true
			}
			return i + 1, j, j + 1, esc, false
		}
	}
	k := strings.IndexByte(s[i:], ',')
	if k < 0 {
		return i, len(s), len(s) + 1, false, true
	}
	return i, i + k, i + k + 1, false, true
}

// countFields returns the number of fields of line, -1 when a quote is
// broken.
func countFields(line string) int {
	n := 0
	for i := 0; i <= len(line); n++ {
		_, _, next, _, ok := scanField(line, i)
		if !ok {
			return -1
		}
		i = next
	}
	return n
}

// isHeader reports whether line is a header line: every field a column
// name, one of them "type" (PowerMTA writes it first, "#type" is accepted
// there). A record cannot pass: its timeLogged holds a space or its rcpt an
// '@', neither of which a name has.
func isHeader(line string) bool {
	hasType := false
	for col, i := 0, 0; i <= len(line); col++ {
		start, end, next, esc, ok := scanField(line, i)
		if !ok || esc {
			return false
		}
		name := line[start:end]
		if col == 0 && len(name) > 1 && name[0] == '#' {
			name = name[1:]
		}
		if !isName(name) {
			return false
		}
		if strings.EqualFold(name, "type") {
			hasType = true
		}
		i = next
	}
	return hasType
}

// hasName reports whether the header line has a column called name.
func hasName(line, name string) bool {
	for i := 0; i <= len(line); {
		start, end, next, _, _ := scanField(line, i)
		if strings.EqualFold(line[start:end], name) {
			return true
		}
		i = next
	}
	return false
}

// isName matches record-fields names: "timeLogged", "header_Message-Id",
// "header_x-sp-subaccount-id".
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// parseTime reads timeLogged. Consecutive records mostly share it.
func (p *Parser) parseTime(s string) (time.Time, error) {
	if s == p.lastTS {
		return p.lastT, nil
	}
	// "2026-11-22 09:00:02+0000": the records of one minute differ in the
	// seconds only, which are added to the remembered instant without a
	// parse or a copy of the text.
	if l := p.lastTS; len(s) == len(l) && len(s) > 19 && s[16] == ':' && s[19] != '.' &&
		s[:17] == l[:17] && s[19:] == l[19:] && isDigit(s[17]) && isDigit(s[18]) {
		if sec := int(s[17]-'0')*10 + int(s[18]-'0'); sec < 60 {
			return p.lastT.Add(time.Duration(sec-(int(l[17]-'0')*10+int(l[18]-'0'))) * time.Second), nil
		}
	}
	s = strings.Clone(s)
	t, err := p.parseTimeText(s)
	if err == nil {
		p.lastTS, p.lastT = s, t
	}
	return t, err
}

func (p *Parser) parseTimeText(s string) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, mtalog.Errorf("timeLogged", "bad timestamp %q", cut(s, 40))
	}
	if len(s) > 0 && isDigit(s[0]) && (len(s) < 5 || s[4] != '-') {
		if t, ok := unixTime(s); ok {
			return t, nil
		}
		return bad()
	}
	sep := byte(' ')
	if len(s) > 10 && s[10] == 'T' {
		sep = 'T'
	}
	t, err := p.clock.ParseISO(s, sep)
	if err != nil {
		// "2026-11-22 14:23:33 +0000": ParseISO wants the zone attached.
		sp := strings.LastIndexByte(s, ' ')
		if sp <= 10 {
			return bad()
		}
		off, ok := zoneOffset(s[sp+1:])
		if !ok {
			return bad()
		}
		if t, err = p.utc.ParseISO(s[:sp], sep); err != nil {
			return bad()
		}
		t = t.Add(-off)
	}
	if t.Year() < 1970 {
		return bad()
	}
	return t.UTC(), nil
}

// unixTime reads "1795351413" or "1795351413.25": 9 to 11 digits of
// seconds (1973 to 5138), so that a stray number is not taken for a time.
func unixTime(s string) (time.Time, bool) {
	var sec int64
	n := 0
	for n < len(s) && isDigit(s[n]) {
		sec = sec*10 + int64(s[n]-'0')
		n++
	}
	if n < 9 || n > 11 {
		return time.Time{}, false
	}
	nsec := 0
	if n < len(s) {
		if s[n] != '.' {
			return time.Time{}, false
		}
		scale, m := 100000000, 0
		for _, c := range s[n+1:] {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			nsec += int(c-'0') * scale
			scale /= 10
			m++
		}
		if m == 0 {
			return time.Time{}, false
		}
	}
	return time.Unix(sec, int64(nsec)).UTC(), true
}

// zoneOffset reads "+0000", "-05:00", "UTC", "GMT" or "Z".
func zoneOffset(z string) (time.Duration, bool) {
	switch z {
	case "UTC", "GMT", "Z":
		return 0, true
	}
	if len(z) != 5 && (len(z) != 6 || z[3] != ':') || z[0] != '+' && z[0] != '-' {
		return 0, false
	}
	if !allDigits(z[1:3]) || !allDigits(z[len(z)-2:]) {
		return 0, false
	}
	h := int(z[1]-'0')*10 + int(z[2]-'0')
	m := int(z[len(z)-2]-'0')*10 + int(z[len(z)-1]-'0')
	if h > 14 || m > 59 {
		return 0, false
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
	if z[0] == '-' {
		d = -d
	}
	return d, true
}

// splitDiag returns the reply of a dsnDiag and whether it is an SMTP one:
// "smtp;550 …" and a bare "550 …" are, "x-local; …" is not (it is kept
// whole, as the MTA's reason).
func splitDiag(diag string) (string, bool) {
	if strings.HasPrefix(diag, "smtp;") { // the usual type, as PowerMTA writes it
		return trim(diag[5:]), true
	}
	for i := 0; i < len(diag) && i < 24; i++ {
		c := diag[i]
		if c == ';' && i > 0 {
			if strings.EqualFold(diag[:i], "smtp") {
				return trim(diag[i+1:]), true
			}
			return diag, false
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			break
		}
	}
	return diag, true
}

// dsnStatus reads the X.Y.Z at the start of "5.7.1 (delivery not
// authorized, message refused)" or "2.0.0(success)".
func dsnStatus(s string) string {
	end := strings.IndexAny(s, " (")
	if end < 0 {
		end = len(s)
	}
	return mtalog.LeadingEnhanced(s[:end])
}

// splitMta reads dsnMta: "mx0a-00123a01.pphosted.com (148.163.156.1)",
// also "dns;host (ip)", "host[ip]", a bare host or a bare IP.
func splitMta(s string) (host, ip string) {
	s = trim(trimPrefixFold(s, "dns;"))
	lp := -1
	if strings.HasSuffix(s, ")") {
		lp = strings.LastIndexByte(s, '(')
	}
	switch {
	case lp >= 0:
		host, ip = trim(s[:lp]), trim(s[lp+1:len(s)-1])
	default:
		if h, i, ok := mtalog.HostIP(s); ok && strings.HasSuffix(s, "]") && h != "" {
			host, ip = h, i
		} else {
			host = s
		}
	}
	host = trimBrackets(host)
	ip = trimBrackets(ip)
	if ip == "" && validIP(host) {
		ip = host
	}
	if !validIP(ip) {
		ip = ""
	}
	return host, ip
}

func (p *Parser) validSourceIP(ip string) bool {
	for _, known := range p.sourceIPs {
		if ip == known {
			return true
		}
	}
	if !validIP(ip) {
		return false
	}
	if len(p.sourceIPs) < maxSourceIPs {
		p.sourceIPs = append(p.sourceIPs, strings.Clone(ip))
	}
	return true
}

func validIP(s string) bool {
	if s == "" {
		return false
	}
	_, ok := mtalog.ParseIP(s)
	return ok
}

// trim is strings.TrimSpace after a cheap look at both ends: every field
// of every record is trimmed, and hardly any has a space to lose.
func trim(s string) string {
	if s != "" && (s[0] <= ' ' || s[0] >= 0x80 || s[len(s)-1] <= ' ' || s[len(s)-1] >= 0x80) {
		return strings.TrimSpace(s)
	}
	return s
}

func trimLine(s string) string {
	s = strings.TrimSuffix(s, "\r")
	return strings.TrimPrefix(s, "\ufeff") // a BOM, when a tool rewrote the file
}

func trimAngle(s string) string {
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		return trim(s[1 : len(s)-1])
	}
	return s
}

func trimBrackets(s string) string {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		return s[1 : len(s)-1]
	}
	return s
}

func trimPrefixFold(s, prefix string) string {
	// The first byte first: most values do not start with the prefix.
	if len(s) >= len(prefix) && s[0]|0x20 == prefix[0] && strings.EqualFold(s[:len(prefix)], prefix) {
		return trim(s[len(prefix):])
	}
	return s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
