package mtalog

import (
	"strings"
	"time"
)

// Clock turns the timestamps of log lines into instants. Syslog's RFC 3164
// prefix has neither year nor zone: the year is chosen so that no event lies
// after Reference (a file spanning New Year then reads right), and the zone
// is Location. Parse never reads the wall clock, so output is reproducible.
type Clock struct {
	Reference time.Time      // no year-less event is placed after this instant
	Location  *time.Location // zone of zone-less timestamps; nil means time.Local
	// Now, when set, replaces Reference with its value at each new
	// timestamp: a daemon's reference moves on while it runs.
	Now func() time.Time

	// One-entry cache: consecutive lines mostly share their timestamp text.
	// The text is copied: lines may alias a read buffer that is reused.
	lastBuf  [48]byte
	lastLen  int
	lastTime time.Time

	// The minute YearLess placed last: consecutive lines mostly share it,
	// and its instant plus the seconds is the answer without time.Date's
	// cost. The year chosen holds while the reference stays before the
	// same minute a year on (minNext).
	minKey  uint32
	minT    time.Time
	minNext time.Time
}

func (c *Clock) cached(text string) (time.Time, bool) {
	if c.lastLen > 0 && len(text) == c.lastLen && string(c.lastBuf[:c.lastLen]) == text {
		return c.lastTime, true
	}
	return time.Time{}, false
}

func (c *Clock) remember(text string, t time.Time) {
	if len(text) > len(c.lastBuf) {
		c.lastLen = 0
		return
	}
	c.lastLen = copy(c.lastBuf[:], text)
	c.lastTime = t
}

func (c *Clock) loc() *time.Location {
	if c.Location == nil {
		return time.Local
	}
	return c.Location
}

// YearLess returns the instant for a timestamp without year or zone.
func (c *Clock) YearLess(mon time.Month, day, hour, min, sec, nsec int) time.Time {
	loc := c.loc()
	ref := c.Reference
	if c.Now != nil {
		ref = c.Now()
	}
	if ref.IsZero() {
		ref = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	}
	key := uint32(mon)<<24 | uint32(day)<<16 | uint32(hour)<<8 | uint32(min)
	if key == c.minKey && loc == c.minT.Location() && ref.Before(c.minNext) {
		t := c.minT.Add(time.Duration(sec)*time.Second + time.Duration(nsec))
		if !t.After(ref) {
			return t
		}
	}
	y := ref.In(loc).Year()
	for i := 0; i < 8; i++ { // Feb 29 needs the last leap year: at most 8 steps back
		t := time.Date(y-i, mon, day, hour, min, sec, nsec, loc)
		if t.Month() != mon {
			continue
		}
		if !t.After(ref) {
			c.minKey, c.minT = key, time.Date(y-i, mon, day, hour, min, 0, 0, loc)
			c.minNext = time.Date(y-i+1, mon, day, hour, min, 0, 0, loc)
			return t
		}
	}
	return time.Date(y-1, mon, day, hour, min, sec, nsec, loc)
}

// Zoneless returns the instant for a timestamp with a year but without a zone.
func (c *Clock) Zoneless(year int, mon time.Month, day, hour, min, sec, nsec int) time.Time {
	return time.Date(year, mon, day, hour, min, sec, nsec, c.loc())
}

// splitHostTag reads what follows a syslog timestamp: "host tag[pid]: msg"
// or BusyBox's "host facility.level tag[pid]: msg".
func splitHostTag(rest string) (host, tag, msg string, ok bool) {
	sp := indexByte(rest, ' ')
	if sp <= 0 {
		return "", "", "", false
	}
	host, rest = rest[:sp], rest[sp+1:]
	for pass := 0; pass < 2; pass++ {
		end := indexByte(rest, ' ')
		if end <= 0 { // no tag, or two spaces in a row
			return "", "", "", false
		}
		tok := rest[:end]
		if tok[len(tok)-1] == ':' {
			tag := tok[:len(tok)-1]
			if tag == "" {
				return "", "", "", false
			}
			if tag[len(tag)-1] == ']' {
				if b := lastIndexByte(tag, '['); b > 0 {
					tag = tag[:b]
				}
			}
			return host, tag, rest[end+1:], true
		}
		if pass == 0 && isFacilityLevel(tok) {
			rest = rest[end+1:]
			continue
		}
		return "", "", "", false
	}
	return "", "", "", false
}

// SyslogTag returns the tag (without "[pid]") of a line with a syslog
// prefix of any shape ParseSyslog reads, judged by shape alone: the
// timestamp's values are not checked, nothing is allocated. The MTAs'
// Sniff functions use it, so detection knows every prefix the parsers do.
func SyslogTag(line string) (tag string, ok bool) {
	s := line
	if len(s) > 0 && s[0] == '<' {
		i := indexByteN(s, '>', 5)
		if i <= 0 {
			return "", false
		}
		s = s[i+1:]
	}
	switch {
	case len(s) >= 20 && isDigit(s[0]) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':':
		// "2026-11-22T14:23:33[.frac][zone] "
		sp := indexByte(s, ' ')
		if sp < 0 {
			return "", false
		}
		s = s[sp+1:]
	case len(s) >= 16 && isUpper(s[0]) && isLower(s[1]) && isLower(s[2]) && s[3] == ' ':
		// "Nov  2 14:23:33", "Nov 02 14:23:33", "Nov 2 14:23:33" [.frac]
		p := 4
		if s[p] == ' ' {
			p++
		}
		if !isDigit(s[p]) {
			return "", false
		}
		p++
		if isDigit(s[p]) {
			p++
		}
		if len(s) < p+10 || s[p] != ' ' || !isDigit(s[p+1]) || s[p+3] != ':' || s[p+6] != ':' {
			return "", false
		}
		s = s[p+9:]
		if s[0] == '.' { // fraction
			sp := indexByte(s, ' ')
			if sp < 0 {
				return "", false
			}
			s = s[sp:]
		}
		if s[0] != ' ' {
			return "", false
		}
		s = s[1:]
	default:
		return "", false
	}
	_, tag, _, ok = splitHostTag(s)
	return tag, ok
}

// SyslogLine is a syslog line split into its parts.
type SyslogLine struct {
	Time time.Time
	Host string
	Tag  string // program name without the [pid], e.g. "postfix-out/smtp"
	Msg  string // text after "tag[pid]: "
}

// ParseSyslog splits a line written by a syslog daemon, journalctl or
// Postfix's maillog_file. It accepts an optional "<PRI>", the RFC 3164
// prefix ("Nov  2 14:23:33", "Nov 02 14:23:33", with optional fraction), RFC
// 3339 (with or without fraction, "Z", "+02:00" or "+0200"), and BusyBox's
// "facility.level" between host and tag. ok is false when the line is not of
// that shape at all; err is set when it is but its timestamp is invalid.
func (c *Clock) ParseSyslog(line string) (sl SyslogLine, ok bool, err error) {
	s := line
	if len(s) > 0 && s[0] == '<' { // raw forwarded syslog keeps its PRI
		if i := indexByteN(s, '>', 5); i > 0 {
			s = s[i+1:]
		}
	}
	var rest string
	switch {
	case len(s) >= 16 && isDigit(s[0]) && s[4] == '-' && s[10] == 'T':
		sl.Time, rest, err = c.rfc3339(s)
	case len(s) >= 16 && s[3] == ' ' && isUpper(s[0]):
		sl.Time, rest, err = c.rfc3164(s)
	default:
		return sl, false, nil
	}
	if err != nil {
		return sl, true, err
	}
	var found bool
	sl.Host, sl.Tag, sl.Msg, found = splitHostTag(rest)
	return sl, found, nil
}

// isFacilityLevel matches BusyBox's "mail.info", "mail.err", ...
func isFacilityLevel(s string) bool {
	i := indexByte(s, '.')
	return i > 0 && i < len(s)-1 && indexByte(s, '[') < 0
}

func (c *Clock) rfc3164(s string) (time.Time, string, error) {
	mon := monthOf(s[0], s[1], s[2])
	if mon == 0 {
		return time.Time{}, "", Errorf("time", "unknown month %q", s[:3])
	}
	// "Nov  2 14:23:33" or "Nov 02 14:23:33" or "Nov 2 14:23:33"
	// "Nov  2", "Nov 02" and "Nov 2" all occur.
	p := 4
	if s[p] == ' ' {
		p++
	}
	day, okd := 0, false
	for n := 0; n < 2 && p < len(s) && isDigit(s[p]); n++ {
		day, okd = day*10+int(s[p]-'0'), true
		p++
	}
	if !okd || p >= len(s) || s[p] != ' ' {
		return time.Time{}, "", Errorf("time", "bad day in %q", cut(s, 16))
	}
	p++
	if len(s) < p+8 || s[p+2] != ':' || s[p+5] != ':' {
		return time.Time{}, "", Errorf("time", "bad clock in %q", cut(s, 16))
	}
	hh, _, ok1 := digits(s, p, 2)
	mm, _, ok2 := digits(s, p+3, 2)
	ss, _, ok3 := digits(s, p+6, 2)
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 60 || day < 1 || day > 31 {
		return time.Time{}, "", Errorf("time", "bad clock in %q", cut(s, 16))
	}
	text := s[:p+8]
	p += 8
	nsec := 0
	if p < len(s) && s[p] == '.' {
		var n int
		nsec, n = fraction(s[p+1:])
		if n == 0 {
			return time.Time{}, "", Errorf("time", "bad fraction in %q", cut(s, 24))
		}
		p += 1 + n
		text = s[:p]
	}
	if p >= len(s) || s[p] != ' ' {
		return time.Time{}, "", Errorf("time", "no space after timestamp in %q", cut(s, 24))
	}
	if day > daysIn(mon) {
		return time.Time{}, "", Errorf("time", "no day %d in %s", day, mon)
	}
	if t, ok := c.cached(text); ok {
		return t, s[p+1:], nil
	}
	t := c.YearLess(mon, day, hh, mm, ss, nsec)
	c.remember(text, t)
	return t, s[p+1:], nil
}

func daysIn(m time.Month) int {
	switch m {
	case time.February:
		return 29
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// rfc3339 reads "2026-11-22T14:23:33[.frac](Z|+hh:mm|+hhmm)".
func (c *Clock) rfc3339(s string) (time.Time, string, error) {
	sp := indexByte(s, ' ')
	if sp < 0 {
		sp = len(s)
	}
	t, err := c.ParseISO(s[:sp], 'T')
	if err != nil {
		return time.Time{}, "", err
	}
	if sp == len(s) {
		return time.Time{}, "", Errorf("time", "nothing after timestamp")
	}
	return t, s[sp+1:], nil
}

// ParseISO reads "YYYY-MM-DD<sep>hh:mm:ss[.frac][zone]" where zone is "Z",
// "+hh:mm", "+hhmm" or absent (then Location applies).
func (c *Clock) ParseISO(ts string, sep byte) (time.Time, error) {
	if t, ok := c.cached(ts); ok {
		return t, nil
	}
	bad := func() (time.Time, error) {
		return time.Time{}, Errorf("time", "bad timestamp %q", cut(ts, 40))
	}
	if len(ts) < 19 || ts[4] != '-' || ts[7] != '-' || ts[10] != sep || ts[13] != ':' || ts[16] != ':' {
		return bad()
	}
	y, _, ok0 := digits(ts, 0, 4)
	mo, _, ok1 := digits(ts, 5, 2)
	d, _, ok2 := digits(ts, 8, 2)
	hh, _, ok3 := digits(ts, 11, 2)
	mm, _, ok4 := digits(ts, 14, 2)
	ss, _, ok5 := digits(ts, 17, 2)
	if !(ok0 && ok1 && ok2 && ok3 && ok4 && ok5) || mo < 1 || mo > 12 || d < 1 || d > daysIn(time.Month(mo)) || hh > 23 || mm > 59 || ss > 60 {
		return bad()
	}
	p := 19
	nsec := 0
	if p < len(ts) && (ts[p] == '.' || ts[p] == ',') {
		var n int
		nsec, n = fraction(ts[p+1:])
		if n == 0 {
			return bad()
		}
		p += 1 + n
	}
	var t time.Time
	switch rest := ts[p:]; {
	case rest == "":
		t = c.Zoneless(y, time.Month(mo), d, hh, mm, ss, nsec)
	case rest == "Z" || rest == "z":
		t = time.Date(y, time.Month(mo), d, hh, mm, ss, nsec, time.UTC)
	case (rest[0] == '+' || rest[0] == '-') && (len(rest) == 6 && rest[3] == ':' || len(rest) == 5):
		zh, _, okh := digits(rest, 1, 2)
		zm, _, okm := digits(rest, len(rest)-2, 2)
		if !okh || !okm || zh > 14 || zm > 59 {
			return bad()
		}
		off := zh*3600 + zm*60
		if rest[0] == '-' {
			off = -off
		}
		t = time.Date(y, time.Month(mo), d, hh, mm, ss, nsec, time.UTC).Add(-time.Duration(off) * time.Second)
	default:
		return bad()
	}
	if time.Month(mo) == time.February && d == 29 && time.Date(y, 2, 29, 0, 0, 0, 0, time.UTC).Day() != 29 {
		return bad()
	}
	c.remember(ts, t)
	return t, nil
}

// fraction reads up to 9 digits of a decimal fraction; n is digits consumed.
func fraction(s string) (nsec, n int) {
	scale := 100000000
	for n < len(s) && isDigit(s[n]) {
		if scale > 0 {
			nsec += int(s[n]-'0') * scale
			scale /= 10
		}
		n++
	}
	return nsec, n
}

func digits(s string, p, n int) (v, end int, ok bool) {
	if p+n > len(s) {
		return 0, p, false
	}
	for i := p; i < p+n; i++ {
		if !isDigit(s[i]) {
			return 0, p, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, p + n, true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }
func isLower(b byte) bool { return b >= 'a' && b <= 'z' }

func indexByte(s string, b byte) int { return strings.IndexByte(s, b) }

func indexByteN(s string, b byte, n int) int {
	for i := 0; i < len(s) && i < n; i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

func lastIndexByte(s string, b byte) int { return strings.LastIndexByte(s, b) }

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// monthOf reads an English month abbreviation ("Nov"), 0 when it is none.
// A switch on the three bytes as one number: comparing with each name in
// turn was a tenth of a Postfix scan.
func monthOf(a, b, c byte) time.Month {
	switch uint32(a)<<16 | uint32(b)<<8 | uint32(c) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return time.January
	case 'F'<<16 | 'e'<<8 | 'b':
		return time.February
	case 'M'<<16 | 'a'<<8 | 'r':
		return time.March
	case 'A'<<16 | 'p'<<8 | 'r':
		return time.April
	case 'M'<<16 | 'a'<<8 | 'y':
		return time.May
	case 'J'<<16 | 'u'<<8 | 'n':
		return time.June
	case 'J'<<16 | 'u'<<8 | 'l':
		return time.July
	case 'A'<<16 | 'u'<<8 | 'g':
		return time.August
	case 'S'<<16 | 'e'<<8 | 'p':
		return time.September
	case 'O'<<16 | 'c'<<8 | 't':
		return time.October
	case 'N'<<16 | 'o'<<8 | 'v':
		return time.November
	case 'D'<<16 | 'e'<<8 | 'c':
		return time.December
	}
	return 0
}
