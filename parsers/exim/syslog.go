package exim

import (
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// parseSyslog calls c.ParseSyslog, which panics on an empty token after
// the host ("Nov  1 00:00:00 host  exim"); such a line is not a syslog line.
func parseSyslog(c *mtalog.Clock, line string) (sl mtalog.SyslogLine, ok bool, err error) {
	defer func() {
		if recover() != nil {
			sl, ok, err = mtalog.SyslogLine{}, false, nil
		}
	}()
	return c.ParseSyslog(line)
}

// syslogLine handles the text after "exim[pid]: ", joining split parts.
func (p *Parser) syslogLine(ev *event.Delivery, line string, sl mtalog.SyslogLine) (bool, error) {
	msg := sl.Msg
	n, m, rest, ok := splitMarker(msg)
	if !ok {
		ok, err := p.logLine(ev, msg, sl.Time, true, false)
		if ok {
			ev.Host = sl.Host
		}
		return ok, err
	}
	pid := syslogPid(line, msg)
	if n == 1 {
		s := p.splitSlot(pid)
		s.start(pid, m, sl.Time, rest)
		return false, nil
	}
	s := p.findSplit(pid)
	if s == nil || s.next != n || s.total != m {
		return false, nil // a part whose start we never saw
	}
	s.add(rest)
	if n < m {
		return false, nil
	}
	joined := string(s.buf)
	t, truncated := s.t, s.truncated
	s.reset()
	ok, err := p.logLine(ev, joined, t, true, truncated)
	if ok {
		ev.Host = sl.Host
	}
	return ok, err
}

// splitLine gathers the parts of one syslog line that Exim split.
type splitLine struct {
	used      bool
	pid       string // cloned
	next      int
	total     int
	t         time.Time
	buf       []byte
	truncated bool
}

const maxJoined = 16 << 10

func (s *splitLine) start(pid string, total int, t time.Time, part string) {
	if s.pid != pid {
		s.pid = strings.Clone(pid)
	}
	s.used, s.next, s.total, s.t, s.truncated = true, 1, total, t, false
	s.buf = s.buf[:0]
	s.add(part)
}

func (s *splitLine) add(part string) {
	if len(s.buf)+len(part) > maxJoined {
		part = part[:max(0, maxJoined-len(s.buf))]
		s.truncated = true
	}
	s.buf = append(s.buf, part...)
	s.next++
}

func (s *splitLine) reset() { s.used, s.next, s.total = false, 0, 0 }

func (p *Parser) findSplit(pid string) *splitLine {
	for i := range p.splits {
		if p.splits[i].used && p.splits[i].pid == pid {
			return &p.splits[i]
		}
	}
	return nil
}

// splitSlot returns the slot for pid, a free one, or the oldest-started one.
func (p *Parser) splitSlot(pid string) *splitLine {
	if s := p.findSplit(pid); s != nil {
		return s
	}
	for i := range p.splits {
		if !p.splits[i].used {
			return &p.splits[i]
		}
	}
	oldest := &p.splits[0]
	for i := range p.splits {
		if p.splits[i].t.Before(oldest.t) {
			oldest = &p.splits[i]
		}
	}
	return oldest
}

// splitMarker reads the "[n/m] " (or "[n\m] " for a split at a newline)
// that Exim puts before each part of a long syslog line.
func splitMarker(msg string) (n, m int, rest string, ok bool) {
	if len(msg) < 6 || msg[0] != '[' {
		return 0, 0, "", false
	}
	i := 1
	for i < len(msg) && i < 5 && isDigit(msg[i]) {
		n = n*10 + int(msg[i]-'0')
		i++
	}
	if i == 1 || i >= len(msg) || (msg[i] != '/' && msg[i] != '\\') {
		return 0, 0, "", false
	}
	i++
	j := i
	for i < len(msg) && i < j+4 && isDigit(msg[i]) {
		m = m*10 + int(msg[i]-'0')
		i++
	}
	if i == j || i >= len(msg) || msg[i] != ']' || n < 1 || n > m {
		return 0, 0, "", false
	}
	return n, m, strings.TrimPrefix(msg[i+1:], " "), true
}

// syslogPid returns the pid in "exim[pid]: " just before msg ("" without).
func syslogPid(line, msg string) string {
	head := line[:len(line)-len(msg)]
	head = strings.TrimSuffix(head, ": ")
	if !strings.HasSuffix(head, "]") {
		return ""
	}
	b := strings.LastIndexByte(head, '[')
	if b < 0 {
		return ""
	}
	return head[b+1 : len(head)-1]
}
