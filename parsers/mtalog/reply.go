package mtalog

import "strings"

// SplitReply reads the SMTP code and enhanced status code at the start of a
// remote reply: "550 5.7.0 Blocked", "550-5.7.1 first line 550 5.7.1 ...",
// "421 Deferred". code is 0 when text does not start with a code in 200..599;
// enhanced is "" when none follows the code.
func SplitReply(text string) (code int, enhanced string) {
	if len(text) < 3 || text[0] < '2' || text[0] > '5' || !isDigit(text[1]) || !isDigit(text[2]) {
		return 0, ""
	}
	if len(text) > 3 && text[3] != ' ' && text[3] != '-' {
		return 0, ""
	}
	code = int(text[0]-'0')*100 + int(text[1]-'0')*10 + int(text[2]-'0')
	if len(text) > 4 {
		enhanced = LeadingEnhanced(text[4:])
	}
	return code, enhanced
}

// LeadingEnhanced returns the "X.Y.Z" status code at the start of s (X in
// 2, 4, 5; Y and Z 1-3 digits), or "".
func LeadingEnhanced(s string) string {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return ""
	}
	p := 2
	for part := 0; part < 2; part++ {
		n := 0
		for p < len(s) && isDigit(s[p]) && n < 4 {
			p++
			n++
		}
		if n == 0 || n > 3 {
			return ""
		}
		if part == 0 {
			if p >= len(s) || s[p] != '.' {
				return ""
			}
			p++
		}
	}
	if p < len(s) && s[p] != ' ' && s[p] != ',' && s[p] != ';' && s[p] != ')' {
		return ""
	}
	return s[:p]
}

// HostIP splits "host[ip]" (also "host[ip]:port") into its parts. ok is false
// when s has no brackets.
func HostIP(s string) (host, ip string, ok bool) {
	b := strings.IndexByte(s, '[')
	if b < 0 {
		return "", "", false
	}
	e := strings.IndexByte(s[b:], ']')
	if e < 0 {
		return "", "", false
	}
	return s[:b], s[b+1 : b+e], true
}
