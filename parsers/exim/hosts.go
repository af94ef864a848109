package exim

import (
	"strings"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
)

// hostInText finds "NAME [IP]" after one of the phrases Exim uses to name a
// host in its own error texts ("Remote host NAME [IP] closed connection",
// "SMTP timeout while connected to NAME [IP]", "Failed to connect to NAME
// [IP]", "send() to NAME [IP] failed", "Malformed SMTP response from NAME
// [IP]"), never a bracketed IP of a remote's reply ("client [A.B.C.D]
// blocked"); rest is the text after the address.
func hostInText(s string) (host, ip, rest string) {
	for _, m := range [...]string{"host ", "connected to ", "connect to ", "send() to ", "response from "} {
		r := s
		for {
			k := strings.Index(r, m)
			if k < 0 {
				break
			}
			r = r[k+len(m):]
			if h, addr, after, ok := hostBracket(r); ok {
				return h, addr, after
			}
		}
	}
	return "", "", ""
}

// hostBracket reads "NAME [IP]" at the start of s.
func hostBracket(s string) (host, ip, rest string, ok bool) {
	sp := strings.IndexByte(s[:min(len(s), 256)], ' ') // host names have at most 255 bytes
	if sp <= 0 || !strings.HasPrefix(s[sp:], " [") {
		return "", "", "", false
	}
	ip, rest, ok = bracketIP(s[sp+1:])
	if !ok {
		return "", "", "", false
	}
	return s[:sp], ip, rest, true
}

// bracketIP reads "[ip]" with an optional ":port" and a "*" (reused
// connection) at the start of s; rest begins after them.
func bracketIP(s string) (ip, rest string, ok bool) {
	if len(s) < 3 || s[0] != '[' {
		return "", "", false
	}
	// An address is at most 45 bytes (64 with a zone): bound the search, or
	// a text of many "[" without "]" would be scanned once per bracket.
	e := strings.IndexByte(s[:min(len(s), 66)], ']')
	if e < 2 {
		return "", "", false
	}
	ip = s[1:e]
	if _, ok := mtalog.ParseIP(ip); !ok {
		return "", "", false
	}
	rest = s[e+1:]
	if len(rest) > 1 && rest[0] == ':' && isDigit(rest[1]) {
		k := 1
		for k < len(rest) && isDigit(rest[k]) {
			k++
		}
		rest = rest[k:]
	}
	rest = strings.TrimPrefix(rest, "*")
	return ip, rest, true
}

// hostMemo remembers the last per-host failure line of one message ("H=mx
// [ip] Connection timed out") by value, so noting one allocates nothing.
type hostMemo struct {
	idN, hostN, ipN, textN int
	id                     [23]byte
	host                   [255]byte
	ip                     [64]byte
	text                   [128]byte
}

// note reads the text after a message id that carries no flag. Shapes:
// "H=NAME [IP][:port] text", "H=NAME [IP]: text", the older "NAME [IP] text",
// and texts naming the host ("Failed to connect to NAME [IP]: text",
// "Remote host NAME [IP] text"); text is what follows the address.
func (m *hostMemo) note(id, s string) {
	var host, ip, text string
	if strings.HasPrefix(s, "H=") {
		h, addr, after, ok := hostBracket(s[2:])
		if !ok {
			return
		}
		host, ip, text = h, addr, strings.TrimPrefix(strings.TrimPrefix(after, ":"), " ")
	} else if h, addr, after, ok := hostBracket(s); ok && strings.HasPrefix(after, " ") {
		host, ip, text = h, addr, after[1:]
	} else if h, addr, after := hostInText(s); addr != "" {
		host, ip, text = h, addr, strings.TrimPrefix(strings.TrimPrefix(after, ":"), " ")
	} else {
		return
	}
	if len(host) > len(m.host) || len(text) > len(m.text) {
		m.idN = 0
		return
	}
	m.idN = copy(m.id[:], id)
	m.hostN = copy(m.host[:], host)
	m.ipN = copy(m.ip[:], ip)
	m.textN = copy(m.text[:], text)
}

// recall returns the host of the last per-host line of message id whose
// error text is text or ends in ": " and text ("SMTP timeout after end of
// data: Connection timed out").
func (m *hostMemo) recall(id, text string) (host, ip string) {
	if m.idN == 0 || text == "" || string(m.id[:m.idN]) != id {
		return "", ""
	}
	t := m.text[:m.textN]
	if len(t) < len(text) || string(t[len(t)-len(text):]) != text {
		return "", ""
	}
	if n := len(t) - len(text); n != 0 && (n < 2 || t[n-2] != ':' || t[n-1] != ' ') {
		return "", ""
	}
	return string(m.host[:m.hostN]), string(m.ip[:m.ipN])
}

func (m *hostMemo) forget(id string) {
	if m.idN != 0 && string(m.id[:m.idN]) == id {
		m.idN = 0
	}
}
