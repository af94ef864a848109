// Package config reads ppwatch's YAML configuration. Decoding is strict: an
// unknown key is an error naming the file, line and key, and every
// validation error names the file, line and field, and says what to fix.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ppwatch/ppwatch/parsers"
	"github.com/ppwatch/ppwatch/pkg/classify"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
)

// Config is the whole configuration file.
type Config struct {
	// Timezone of log timestamps that carry none (RFC 3164 syslog, Exim
	// without log_timezone): "Local", "UTC" or an IANA name.
	Timezone string `yaml:"timezone"`
	// SourceIPs name the sending IP when the log line does not carry it.
	SourceIPs []SourceIP `yaml:"source_ips"`
	// InternalRelays are relays that are hops inside the host, not outbound
	// deliveries: IPs, CIDR prefixes or host names ("*.example" globs).
	InternalRelays []string   `yaml:"internal_relays"`
	Proofpoint     Proofpoint `yaml:"proofpoint"`
	// Rules are tried before the built-in classification rules.
	Rules []Rule `yaml:"rules"`

	// The daemon's keys (ppwatch run); see daemon.go.
	Listen        string     `yaml:"listen"`
	StateFile     string     `yaml:"state_file"`
	FlushInterval Duration   `yaml:"flush_interval"`
	Inputs        []Input    `yaml:"inputs"`
	Windows       []Duration `yaml:"windows"`
	Domains       Domains    `yaml:"domains"`
	Retention     Duration   `yaml:"retention"`
	Episodes      Episodes   `yaml:"episodes"` // see episodes.go

	// The daemon's alerts; see alerts.go. Alerts nil (the key given
	// empty) or [] means none; without the key, DefaultAlerts.
	ExternalURL string      `yaml:"external_url"`
	Alerting    Alerting    `yaml:"alerting"`
	Alerts      []AlertRule `yaml:"alerts"`

	// The sender checks (ppwatch check, later the daemon's); see dns.go.
	DNS     DNS     `yaml:"dns"`
	Hygiene Hygiene `yaml:"hygiene"`

	// Report is ppwatch report's: the evidence packet.
	Report Report `yaml:"report"`

	Location *time.Location `yaml:"-"`
	File     string         `yaml:"-"`

	lines map[string]int    // key → its line in File
	flags map[string]string // key → the flag that set it
}

// Where names a key for an error found after loading, as loading names
// them: "file:line: key", or the flag that overrode it.
func (c *Config) Where(key string) string {
	if f, ok := c.flags[key]; ok {
		return f
	}
	if l, ok := c.lines[key]; ok {
		return fmt.Sprintf("%s:%d: %s", c.File, l, key)
	}
	if c.File != "" {
		return c.File + ": " + key
	}
	return key
}

// SetByFlag records that a command-line flag set key, for Where.
func (c *Config) SetByFlag(key, flag string) {
	if c.flags == nil {
		c.flags = map[string]string{}
	}
	c.flags[key] = flag
}

// Report are the evidence packet's settings.
type Report struct {
	// MaskRecipients shows recipients' local parts as "…" in the samples.
	MaskRecipients bool `yaml:"mask_recipients"`
	// From is the From address of the eml draft.
	From string `yaml:"from"`
}

// SourceIP maps an instance (Postfix syslog name, Exim transport, PowerMTA
// vmta) to the local IP it sends from. Instance "*" or empty matches any.
type SourceIP struct {
	MTA      string `yaml:"mta"`
	Instance string `yaml:"instance"`
	IP       string `yaml:"ip"`
}

// Proofpoint extends the built-in detection.
type Proofpoint struct {
	Hosts            []string `yaml:"hosts"`
	RecipientDomains []string `yaml:"recipient_domains"`
	// Networks add to classify.DefaultNetworks: relay addresses that are
	// Proofpoint receivers whatever their names.
	Networks []string `yaml:"networks"`
	// LearnFromMX lets the daemon look up the MX records of recipient
	// domains nothing else marks, and count attempts to those behind
	// Proofpoint as Proofpoint attempts from then on.
	LearnFromMX bool `yaml:"learn_from_mx"`
}

// Rule is a user classification rule.
type Rule struct {
	ID         string `yaml:"id"`
	Match      string `yaml:"match"`
	Class      string `yaml:"class"`
	Proofpoint bool   `yaml:"proofpoint"`
}

// DefaultInternalRelays are loopback: content filters and local hops.
var DefaultInternalRelays = []string{"127.0.0.0/8", "::1"}

// Default returns the configuration used without a file.
func Default() *Config {
	c := &Config{
		Timezone:       "Local",
		InternalRelays: append([]string(nil), DefaultInternalRelays...),
		Proofpoint:     Proofpoint{LearnFromMX: true},
		Listen:         DefaultListen,
		FlushInterval:  Duration(time.Second),
		Windows:        append([]Duration(nil), DefaultWindows...),
		Domains:        Domains{Top: 50, StoredPerIP: DefaultStoredPerIP, StoredTotal: DefaultStoredTotal},
		Retention:      Duration(30 * 24 * time.Hour),
		Episodes:       Episodes{Quiet: Duration(DefaultEpisodeQuiet), Retention: Duration(DefaultEpisodeRetention)},
		Alerting:       Alerting{EvalInterval: Duration(DefaultEvalInterval), ResendInterval: Duration(DefaultResendInterval)},
		Alerts:         DefaultAlerts(),
		DNS:            defaultDNS(),
		Hygiene:        defaultHygiene(),
	}
	c.Location = time.Local
	return c
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse decodes and validates data; name is used in error messages. All
// the file's errors come back at once, in line order, so that one round of
// fixes is enough; only a YAML syntax error stops the reading early.
func Parse(data []byte, name string) (*Config, error) {
	c, err := parse(data, name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Inspect reads the file at path as Load does, and returns what it could
// read along with the file's errors (nil only on a syntax error), so that
// check-config can check that further and report everything in one run. A
// config with errors is never one to run with.
func Inspect(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(data, path)
}

func parse(data []byte, name string) (*Config, error) {
	c := Default()
	c.File = name
	p := &problems{file: name}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		p.yaml(err, nil)
		return nil, p.err()
	}
	lines := map[string]int{}
	if len(root.Content) > 0 { // else an empty file: all defaults
		doc := root.Content[0]
		checkKeys(doc, reflect.TypeOf(*c), "", lines, p)
		if err := doc.Decode(c); err != nil {
			p.yaml(err, lines)
		}
	}
	c.validate(lines, p)
	c.lines = lines
	return c, p.err()
}

// problems collects a file's errors with their lines.
type problems struct {
	file string
	list []problem
}

type problem struct {
	line int // 0: the file as a whole
	msg  string
	kind int // keyProblem, decodeProblem or valueProblem
}

// A line's problems of the first kind found hide its later kinds: a key
// the key check refused is refused again by the decoder in its own words,
// and a value the decoder could not read is no value to validate.
const (
	keyProblem = iota
	decodeProblem
	valueProblem
)

func (p *problems) add(kind, line int, format string, args ...any) {
	p.list = append(p.list, problem{line: line, msg: fmt.Sprintf(format, args...), kind: kind})
}

// err is every problem in line order ("file:line: msg", those without a
// line last).
func (p *problems) err() error {
	first := map[int]int{} // line → its first kind
	for _, e := range p.list {
		if k, ok := first[e.line]; !ok || e.kind < k {
			first[e.line] = e.kind
		}
	}
	sort.SliceStable(p.list, func(i, j int) bool {
		a, b := p.list[i].line, p.list[j].line
		return a != 0 && (b == 0 || a < b)
	})
	var errs []error
	for _, e := range p.list {
		switch {
		case e.line == 0:
			errs = append(errs, fmt.Errorf("%s: %s", p.file, e.msg))
		case e.kind == first[e.line]:
			errs = append(errs, fmt.Errorf("%s:%d: %s", p.file, e.line, e.msg))
		}
	}
	return errors.Join(errs...)
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yaml adds yaml.v3's "yaml: line N: msg" errors as msg at line N, as
// "key: msg" when lines (key → line) names the key of line N: a value's
// own error ("invalid duration") does not say whose value it is.
func (p *problems) yaml(err error, lines map[string]int) {
	keyAt := func(line int) string {
		// The deepest key of the line; items of a flow list ("[5m, 1x]")
		// share one line, so their list is named instead.
		var best []string
		for k, l := range lines {
			switch {
			case l != line:
			case len(best) == 0 || len(k) > len(best[0]):
				best = []string{k}
			case len(k) == len(best[0]):
				best = append(best, k)
			}
		}
		switch {
		case len(best) == 0:
			return ""
		case len(best) > 1:
			if i := strings.LastIndexByte(best[0], '['); i > 0 {
				return best[0][:i] + ": "
			}
			return ""
		}
		return best[0] + ": "
	}
	var msgs []string
	if te, ok := err.(*yaml.TypeError); ok {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, m := range msgs {
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			p.add(decodeProblem, line, "%s%s", keyAt(line), m[len(sm[0]):])
		} else {
			p.add(decodeProblem, 0, "%s", strings.TrimPrefix(m, "yaml: "))
		}
	}
}

// checkKeys walks the YAML tree beside the Go type, so an unknown key is
// reported with its line and path, and records each field's line. It goes
// on past a wrong key, to report the file's other ones too.
func checkKeys(n *yaml.Node, t reflect.Type, path string, lines map[string]int, p *problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		lines[path] = n.Line
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Kind != yaml.ScalarNode || n.Tag != "!!null" {
				p.add(keyProblem, n.Line, "%s: expected a mapping of keys", orTop(path))
			}
			return
		}
		known := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			known[tag] = t.Field(i).Type
			names = append(names, tag)
		}
		sort.Strings(names)
		seen := map[string]bool{}
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := known[k.Value]
			switch {
			case !ok:
				p.add(keyProblem, k.Line, "unknown key %q in %s (known keys: %s)", k.Value, orTop(path), strings.Join(names, ", "))
			case seen[k.Value]:
				p.add(keyProblem, k.Line, "key %q given twice in %s", k.Value, orTop(path))
			default:
				seen[k.Value] = true
				checkKeys(v, ft, join(path, k.Value), lines, p)
				kept = append(kept, k, v)
			}
		}
		// The decoder gets the known keys only, once each: it stops at a
		// key given twice, and the values after it would go unchecked.
		n.Content = kept
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode && n.Tag != "!!null" {
			p.add(keyProblem, n.Line, "%s: expected a list", path)
			return
		}
		for i, item := range n.Content {
			checkKeys(item, t.Elem(), path+"["+strconv.Itoa(i)+"]", lines, p)
		}
	case reflect.String, reflect.Bool:
		if n.Kind != yaml.ScalarNode {
			p.add(keyProblem, n.Line, "%s: expected a single value, not a list or mapping", path)
		} else if t.Kind() == reflect.Bool && n.Value != "true" && n.Value != "false" {
			p.add(keyProblem, n.Line, "%s: expected true or false, not %q", path, n.Value)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

var ruleID = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// validate checks values; errors name file:line: field.
func (c *Config) validate(lines map[string]int, p *problems) {
	bad := func(field, format string, args ...any) {
		line := lines[field]
		for line == 0 && strings.Contains(field, ".") { // fall back to the parent's line
			field2 := field[:strings.LastIndexAny(field, ".[")]
			line = lines[field2]
			if field2 == field {
				break
			}
			field = field2
		}
		p.add(valueProblem, line, "%s: %s", field, fmt.Sprintf(format, args...))
	}
	switch c.Timezone {
	case "", "Local", "local":
		c.Location = time.Local
	default:
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			bad("timezone", "unknown zone %q (use Local, UTC or an IANA name like Europe/Berlin)", c.Timezone)
		}
		c.Location = loc
	}
	for i, s := range c.SourceIPs {
		f := fmt.Sprintf("source_ips[%d]", i)
		if _, ok := parsers.Lookup(s.MTA); !ok && s.MTA != "" {
			bad(f+".mta", "unknown MTA %q (use %s)", s.MTA, parsers.Names(", "))
		}
		if _, err := netip.ParseAddr(s.IP); err != nil {
			bad(f+".ip", "%q is not an IP address", s.IP)
		}
	}
	for i, r := range c.InternalRelays {
		if r == "" {
			bad(fmt.Sprintf("internal_relays[%d]", i), "empty entry (give an IP, a CIDR prefix or a host name)")
		} else if strings.Contains(r, "/") {
			if _, err := netip.ParsePrefix(r); err != nil {
				bad(fmt.Sprintf("internal_relays[%d]", i), "%q is not a CIDR prefix", r)
			}
		}
	}
	for i, h := range c.Proofpoint.Hosts {
		if h == "" || strings.ContainsAny(h, " /[]") || strings.Count(h, "*") > 1 || (strings.Contains(h, "*") && !strings.HasPrefix(h, "*.")) {
			bad(fmt.Sprintf("proofpoint.hosts[%d]", i), "%q is not a host name or a \"*.domain\" pattern", h)
		}
	}
	for i, n := range c.Proofpoint.Networks {
		if _, err := netip.ParsePrefix(n); err != nil {
			bad(fmt.Sprintf("proofpoint.networks[%d]", i), "%q is not a CIDR prefix (e.g. 192.0.2.0/24 or 2001:db8::/32)", n)
		}
	}
	for i, d := range c.Proofpoint.RecipientDomains {
		if d == "" || strings.ContainsAny(d, " /@[]") || (strings.Contains(d, "*") && !strings.HasPrefix(d, "*.")) {
			bad(fmt.Sprintf("proofpoint.recipient_domains[%d]", i), "%q is not a domain or a \"*.domain\" pattern", d)
		}
	}
	ids := map[string]bool{}
	for i, r := range c.Rules {
		f := fmt.Sprintf("rules[%d]", i)
		switch {
		case r.ID == "":
			bad(f+".id", "missing (give the rule an id like \"acme-block\")")
		case !ruleID.MatchString(r.ID):
			bad(f+".id", "%q: use lower-case letters, digits, '-', '_' and '.'", r.ID)
		case ids[r.ID]:
			bad(f+".id", "%q is used by an earlier rule", r.ID)
		}
		ids[r.ID] = true
		if r.Match == "" {
			bad(f+".match", "missing (a regular expression on the reply text)")
		} else if _, err := regexp.Compile(r.Match); err != nil {
			bad(f+".match", "%v", err)
		}
		if !event.ValidClass(event.Class(r.Class)) || r.Class == string(event.ClassNone) {
			bad(f+".class", "unknown class %q (use one of %s)", r.Class, classList())
		}
	}
	if f := c.Report.From; f != "" && (event.DomainOf(f) == "" || strings.ContainsAny(f, " <>")) {
		bad("report.from", "%q is not a mail address (e.g. postmaster@example.com)", f)
	}
	c.validateDaemon(bad)
	c.validateEpisodes(bad)
	c.validateAlerts(bad, lines)
	c.validateDNS(bad)
}

func classList() string {
	var s []string
	for _, c := range event.Classes {
		if c != event.ClassNone {
			s = append(s, string(c))
		}
	}
	return strings.Join(s, ", ")
}

// SourceIPOf returns the configured sending IP of an instance of mta (""
// when none is configured): the first source_ips entry for that MTA (or
// any MTA) and that instance (or "" / "*", any instance).
func (c *Config) SourceIPOf(mta, instance string) string {
	for _, s := range c.SourceIPs {
		if (s.MTA == "" || s.MTA == mta) && (s.Instance == "" || s.Instance == "*" || s.Instance == instance) {
			return s.IP
		}
	}
	return ""
}

// NewClassifier builds the classifier the configuration describes.
func (c *Config) NewClassifier() (*classify.Classifier, error) {
	opts := classify.Options{Hosts: c.Proofpoint.Hosts, Domains: c.Proofpoint.RecipientDomains, Networks: c.Proofpoint.Networks}
	for _, r := range c.Rules {
		opts.Rules = append(opts.Rules, classify.UserRule{ID: r.ID, Match: r.Match, Class: event.Class(r.Class), Proofpoint: r.Proofpoint})
	}
	cls, err := classify.New(opts)
	if err != nil {
		return nil, fmt.Errorf("%s: rules: %w", c.File, err)
	}
	return cls, nil
}

// PipelineOptions are the options of a pipeline for a stream of mta's log.
func (c *Config) PipelineOptions(mta string, cls *classify.Classifier) pipeline.Options {
	return pipeline.Options{Classifier: cls, InternalRelays: c.InternalRelays, Location: c.Location,
		SourceIP: func(instance string) string { return c.SourceIPOf(mta, instance) }}
}
