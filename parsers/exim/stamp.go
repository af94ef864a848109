package exim

import (
	"time"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
)

// isStampStart reports the shape "dddd-dd-dd dd:dd:dd" at the start of s.
func isStampStart(s string) bool {
	return len(s) >= 19 && isDigit(s[0]) && isDigit(s[3]) && s[4] == '-' && s[7] == '-' && s[10] == ' ' && s[13] == ':' && s[16] == ':'
}

// skipStamp returns s after the timestamp (with fraction and zone) and its
// space, without checking the values.
func skipStamp(s string) (string, bool) {
	p := stampEnd(s)
	if p >= len(s) || s[p] != ' ' {
		return "", false
	}
	return s[p+1:], true
}

func stampEnd(s string) int {
	p := 19
	if p < len(s) && s[p] == '.' {
		p++
		for p < len(s) && isDigit(s[p]) {
			p++
		}
	}
	if p+6 <= len(s) && s[p] == ' ' && (s[p+1] == '+' || s[p+1] == '-') &&
		isDigit(s[p+2]) && isDigit(s[p+3]) && isDigit(s[p+4]) && isDigit(s[p+5]) &&
		(p+6 == len(s) || s[p+6] == ' ') {
		p += 6
	}
	return p
}

// skipPid drops the "[pid] " that log_selector +pid writes.
func skipPid(s string) string {
	if len(s) < 4 || s[0] != '[' {
		return s
	}
	for i := 1; i < len(s) && i < 12; i++ {
		if s[i] == ']' {
			if i > 1 && i+1 < len(s) && s[i+1] == ' ' {
				return s[i+2:]
			}
			return s
		}
		if !isDigit(s[i]) {
			return s
		}
	}
	return s
}

// stampCache holds the last timestamp text by value: the caller may reuse the
// memory of earlier lines, so a substring of one cannot be kept.
type stampCache struct {
	n      int
	b      [40]byte // the last timestamp's text
	zoneAt int      // where its " ±hhmm" starts (n when none)
	minute time.Time
	last   time.Time // its instant: lines of one second share it
}

// stamp reads "YYYY-MM-DD hh:mm:ss[.fff][ ±hhmm]" and the space after it.
// The instant of the last timestamp's minute is kept: one of the same
// minute and zone is that plus its seconds, without time.Date's cost.
func (p *Parser) stamp(s string) (time.Time, string, error) {
	end := stampEnd(s)
	if end >= len(s) || s[end] != ' ' {
		return time.Time{}, "", mtalog.Errorf("time", "no space after timestamp %q", clip(s[:min(end, len(s))]))
	}
	text, rest := s[:end], s[end+1:]
	c := &p.ts
	if c.n == len(text) && text == string(c.b[:c.n]) {
		return c.last, rest, nil
	}
	bad := func() (time.Time, string, error) {
		return time.Time{}, "", mtalog.Errorf("time", "bad timestamp %q", clip(text))
	}
	ss, ok5 := num(text, 17, 2)
	if !ok5 || ss > 60 {
		return bad()
	}
	p19 := 19
	nsec := 0
	if p19 < len(text) && text[p19] == '.' {
		scale := 100000000
		k := p19 + 1
		for ; k < len(text) && isDigit(text[k]); k++ {
			nsec += int(text[k]-'0') * scale
			scale /= 10
		}
		if k == p19+1 || k-p19-1 > 9 {
			return bad()
		}
		p19 = k
	}
	if c.n >= 17 && len(text) <= len(c.b) && text[:17] == string(c.b[:17]) && text[p19:] == string(c.b[c.zoneAt:c.n]) {
		t := c.minute.Add(time.Duration(ss)*time.Second + time.Duration(nsec))
		c.n = copy(c.b[:], text)
		c.zoneAt, c.last = p19, t
		return t, rest, nil
	}
	y, ok0 := num(text, 0, 4)
	mo, ok1 := num(text, 5, 2)
	d, ok2 := num(text, 8, 2)
	hh, ok3 := num(text, 11, 2)
	mm, ok4 := num(text, 14, 2)
	if !(ok0 && ok1 && ok2 && ok3 && ok4) || mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 {
		return bad()
	}
	var minute time.Time
	if p19 < len(text) { // " +hhmm"
		zh, _ := num(text, p19+2, 2)
		zm, _ := num(text, p19+4, 2)
		if zh > 14 || zm > 59 {
			return bad()
		}
		off := time.Duration(zh)*time.Hour + time.Duration(zm)*time.Minute
		if text[p19+1] == '-' {
			off = -off
		}
		minute = time.Date(y, time.Month(mo), d, hh, mm, 0, 0, time.UTC).Add(-off)
		if _, _, dd := minute.Add(off).Date(); dd != d {
			return bad()
		}
	} else {
		minute = p.clock.Zoneless(y, time.Month(mo), d, hh, mm, 0, 0)
		if time.Date(y, time.Month(mo), d, 12, 0, 0, 0, time.UTC).Day() != d {
			return bad()
		}
	}
	t := minute.Add(time.Duration(ss)*time.Second + time.Duration(nsec))
	if len(text) <= len(c.b) {
		c.n = copy(c.b[:], text)
		c.zoneAt, c.minute, c.last = p19, minute, t
	}
	return t, rest, nil
}

func num(s string, p, n int) (int, bool) {
	if p+n > len(s) {
		return 0, false
	}
	v := 0
	for i := p; i < p+n; i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}
