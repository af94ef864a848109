package dnscheck

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/ppwatch/ppwatch/pkg/classify"
)

// Options configure a Checker. The zero value of each field means its
// default.
type Options struct {
	// Servers are the recursive resolvers to ask, "IP:port", in order.
	// Empty: the nameservers of ResolvConf.
	Servers []string
	// ResolvConf is the file that names the resolvers when Servers is
	// empty (default /etc/resolv.conf).
	ResolvConf string
	// Timeout bounds one exchange with one server (default 2s).
	Timeout time.Duration
	// Attempts is how many rounds over Servers a lookup makes before it
	// gives up (default 2).
	Attempts int
	// Concurrency bounds the exchanges in flight (default 8).
	Concurrency int
	// DNSBL are the blocklist zones (see DefaultZones; nil: none).
	DNSBL []Zone
	// DNSBLRate is the most DNSBL queries sent per second, over all zones
	// (default 5); answers from the cache do not count.
	DNSBLRate float64
	// Classifier tells Proofpoint's MX hosts (its built-in patterns and
	// the configured proofpoint.hosts). Default: the built-in patterns.
	Classifier *classify.Classifier
	// Now is the clock of Result.Checked and of the cache (default
	// time.Now).
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultAttempts    = 2
	DefaultConcurrency = 8
	DefaultDNSBLRate   = 5
)

// resolvConf is Options.ResolvConf's default, unless $PPWATCH_RESOLV_CONF
// names another file (a container's own; the daemon's tests name one that
// does not exist, so that no test can ask a real resolver).
var resolvConf = "/etc/resolv.conf"

// Checker runs the checks. It is safe for concurrent use, and its cache
// lives as long as it does: the daemon keeps one.
type Checker struct {
	res *resolver
	cls *classify.Classifier
	now func() time.Time
	bl  []Zone
}

// New checks the options and makes a Checker.
func New(o Options) (*Checker, error) {
	if o.ResolvConf == "" {
		// Read at each New, so that a test's TestMain can set it first.
		o.ResolvConf = cmp.Or(os.Getenv("PPWATCH_RESOLV_CONF"), resolvConf)
	}
	if len(o.Servers) == 0 {
		cc, err := dns.ClientConfigFromFile(o.ResolvConf)
		if err != nil {
			return nil, fmt.Errorf("no DNS servers given and %v", err)
		}
		for _, s := range cc.Servers {
			o.Servers = append(o.Servers, net.JoinHostPort(s, cc.Port))
		}
		if len(o.Servers) == 0 {
			return nil, fmt.Errorf("no DNS servers given and no nameserver in %s", o.ResolvConf)
		}
	}
	for _, s := range o.Servers {
		if err := CheckServer(s); err != nil {
			return nil, err
		}
	}
	for _, z := range o.DNSBL {
		if z.Name == "" {
			return nil, errors.New("a DNSBL zone without a name")
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.DNSBLRate <= 0 {
		o.DNSBLRate = DefaultDNSBLRate
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Classifier == nil {
		cls, err := classify.New(classify.Options{})
		if err != nil {
			return nil, err
		}
		o.Classifier = cls
	}
	return &Checker{res: newResolver(o), cls: o.Classifier, now: o.Now, bl: o.DNSBL}, nil
}

// CheckServer checks a resolver address: IP:port (a name would need a
// resolver to be found).
func CheckServer(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not IP:port (e.g. \"127.0.0.53:53\", \"[::1]:53\")", addr)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("%q: %q is not an IP address", addr, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: the port %q is not a number in 1..65535", addr, port)
	}
	return nil
}

// Domain is a sending domain and the DKIM selectors it signs with.
type Domain struct {
	Name          string
	DKIMSelectors []string
}

// Subjects are what Check checks.
type Subjects struct {
	IPs              []netip.Addr // sending IPs
	Domains          []Domain     // sending domains (envelope sender, From)
	RecipientDomains []string     // domains whose MX is looked at
}

// Check runs every check of every subject at once (within the resolver's
// bounds) and returns the results sorted (see Sort). A PTR name is judged
// against the sending domains' names, and each sending domain's SPF is
// evaluated for each sending IP.
func (c *Checker) Check(ctx context.Context, s Subjects) []Result {
	var names []string
	for _, d := range s.Domains {
		names = append(names, d.Name)
	}
	var (
		mu  sync.Mutex
		all []Result
		wg  sync.WaitGroup
	)
	run := func(f func() []Result) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f()
			mu.Lock()
			all = append(all, r...)
			mu.Unlock()
		}()
	}
	for _, ip := range s.IPs {
		run(func() []Result { return c.CheckPTR(ctx, ip, names) })
		run(func() []Result { return c.CheckDNSBL(ctx, ip) })
	}
	for _, d := range s.Domains {
		run(func() []Result { return c.CheckDomain(ctx, d, s.IPs) })
	}
	for _, d := range s.RecipientDomains {
		run(func() []Result { return []Result{c.CheckMX(ctx, d)} })
	}
	wg.Wait()
	Sort(all)
	return all
}

// result starts a result of check about subject, checked now.
func (c *Checker) result(check Check, subject string) Result {
	return Result{Check: check, Subject: subject, Checked: c.now().UTC()}
}

// normalDomain is a domain as results name it: lower case, no final dot.
func normalDomain(d string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
}

// unknown marks r as not checked because of a failed lookup.
func unknown(r Result, err error) Result {
	r.Status = Unknown
	r.Reason = err.Error()
	return r
}
