package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ppwatch/ppwatch/parsers"
	"github.com/ppwatch/ppwatch/pkg/alert"
)

// JournalPrefix marks a journald input: "journald:postfix@-.service,…".
const JournalPrefix = "journald:"

// Input is one log source of the daemon.
type Input struct {
	// Path is a file, a glob ("/var/log/pmta/acct-*.csv"), "-" for
	// standard input, or "journald:" followed by comma-separated unit names.
	Path string `yaml:"path"`
	MTA  string `yaml:"mta"` // a name of the MTA table (parsers.Table) or auto (default)
}

// Domains bound the recipient_domain label and the domains the state file
// keeps by name.
type Domains struct {
	Top    int      `yaml:"top"`    // the N domains with most Proofpoint attempts get their own series
	Always []string `yaml:"always"` // always their own series
	// Distinct recipient domains the state file keeps by name per source IP
	// and in all; attempts to domains past either are kept under "other"
	// and counted in ppwatch_proofpoint_domains_folded_total.
	StoredPerIP int `yaml:"stored_per_ip"`
	StoredTotal int `yaml:"stored_total"`
}

// Defaults of domains.stored_per_ip and stored_total, and their upper
// limit: past it a flood would again cost the memory the bound is there to
// save.
const (
	DefaultStoredPerIP = 5000
	DefaultStoredTotal = 20000
	MaxStoredDomains   = 1000000
)

// Duration is a time.Duration written as "90s", "5m", "24h" or "30d".
type Duration time.Duration

// UnmarshalYAML reads the duration text.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		// A TypeError, so the decoder goes on with the other values
		// (any other error stops it there).
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

// ParseDuration is time.ParseDuration plus a "d" (24h) unit, never
// negative: alert.ParseDuration, the inverse of how windows are written.
func ParseDuration(s string) (time.Duration, error) { return alert.ParseDuration(s) }

// String writes a window the way label values show it: "5m", "1h", "24h".
func (d Duration) String() string { return alert.FormatDuration(time.Duration(d)) }

// Defaults of the daemon.
const (
	DefaultListen = ":9797"
	MaxWindow     = 7 * 24 * time.Hour
)

// DefaultWindows are the ratio windows.
var DefaultWindows = []Duration{Duration(5 * time.Minute), Duration(time.Hour), Duration(24 * time.Hour)}

// DefaultInputs are whichever of the MTAs' usual log locations exist.
func DefaultInputs() []Input {
	var in []Input
	for _, m := range parsers.Table {
		for _, p := range m.Paths {
			if found, _ := filepath.Glob(p); len(found) > 0 {
				in = append(in, Input{Path: p, MTA: m.Name})
			}
		}
	}
	return in
}

// DefaultPaths lists the MTAs' usual log locations, for messages.
func DefaultPaths() []string {
	var paths []string
	for _, m := range parsers.Table {
		paths = append(paths, m.Paths...)
	}
	return paths
}

// DefaultStateFile is $STATE_DIRECTORY/ppwatch.db under systemd, else
// /var/lib/ppwatch/ppwatch.db.
func DefaultStateFile() string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		// systemd may pass several, colon-separated: the first is ours.
		return filepath.Join(strings.Split(d, ":")[0], "ppwatch.db")
	}
	return "/var/lib/ppwatch/ppwatch.db"
}

func (c *Config) validateDaemon(bad func(field, format string, args ...any)) {
	if err := CheckListen(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if c.FlushInterval < Duration(10*time.Millisecond) || c.FlushInterval > Duration(time.Minute) {
		bad("flush_interval", "%s is outside 10ms..1m", time.Duration(c.FlushInterval))
	}
	seen := map[string]bool{}
	for i, in := range c.Inputs {
		f := fmt.Sprintf("inputs[%d]", i)
		switch {
		case in.Path == "":
			bad(f+".path", "missing (a file, a glob, \"-\" or \"journald:UNIT,…\")")
		case seen[in.Path]:
			bad(f+".path", "%q is listed twice", in.Path)
		case strings.HasPrefix(in.Path, JournalPrefix) && strings.Trim(strings.TrimPrefix(in.Path, JournalPrefix), ", ") == "":
			bad(f+".path", "journald: needs unit names, e.g. \"journald:postfix@-.service\"")
		case !strings.HasPrefix(in.Path, JournalPrefix) && in.Path != "-":
			if _, err := filepath.Match(in.Path, ""); err != nil {
				bad(f+".path", "bad glob %q: %v", in.Path, err)
			}
		}
		seen[in.Path] = true
		if _, ok := parsers.Lookup(in.MTA); !ok && in.MTA != "" && in.MTA != "auto" {
			bad(f+".mta", "unknown MTA %q (use auto, %s)", in.MTA, parsers.Names(", "))
		}
	}
	wseen := map[Duration]bool{}
	for i, w := range c.Windows {
		f := fmt.Sprintf("windows[%d]", i)
		switch {
		case w < Duration(time.Minute) || time.Duration(w)%time.Minute != 0:
			bad(f, "%s: windows are whole minutes, at least 1m", time.Duration(w))
		case time.Duration(w) > MaxWindow:
			bad(f, "%s is longer than the longest window, 7d", w)
		case wseen[w]:
			bad(f, "%s is listed twice", w)
		}
		wseen[w] = true
	}
	if c.Domains.Top < 0 || c.Domains.Top > 10000 {
		bad("domains.top", "%d is outside 0..10000", c.Domains.Top)
	}
	if c.Domains.StoredPerIP < 1 || c.Domains.StoredPerIP > MaxStoredDomains {
		bad("domains.stored_per_ip", "%d is outside 1..%d", c.Domains.StoredPerIP, MaxStoredDomains)
	}
	if c.Domains.StoredTotal < 1 || c.Domains.StoredTotal > MaxStoredDomains {
		bad("domains.stored_total", "%d is outside 1..%d", c.Domains.StoredTotal, MaxStoredDomains)
	}
	for i, d := range c.Domains.Always {
		if d == "" || strings.ContainsAny(d, " /@[]*") {
			bad(fmt.Sprintf("domains.always[%d]", i), "%q is not a domain", d)
		}
	}
	if c.Retention < Duration(time.Hour) {
		bad("retention", "%s is shorter than 1h", time.Duration(c.Retention))
	}
	for i, w := range c.Windows {
		if w > c.Retention {
			bad(fmt.Sprintf("windows[%d]", i), "%s is longer than retention %s", w, c.Retention)
		}
	}
}

var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

// CheckListen checks a listen address the way listening would use it,
// without listening: host:port with a port number and, for the host,
// nothing (every interface), an IP address or a host name. A host of
// digits and dots must be an IP address: "999.0.0.1" is no name either.
func CheckListen(addr string) error {
	if addr == "" {
		return errors.New(`empty (give host:port, e.g. "127.0.0.1:9797" or ":9797")`)
	}
	if !strings.Contains(addr, ":") {
		return fmt.Errorf(`%q has no port (give host:port, e.g. ":9797")`, addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf(`%q is not host:port (an IPv6 address goes in brackets: "[::1]:9797")`, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: the port %q is not a number in 0..65535", addr, port)
	}
	switch {
	case host == "":
	case strings.Contains(host, ":") || strings.Trim(host, "0123456789.") == "":
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%q: %q is not an IP address", addr, host)
		}
	case !hostName.MatchString(host):
		return fmt.Errorf("%q: %q is not a host name or an IP address", addr, host)
	}
	return nil
}
