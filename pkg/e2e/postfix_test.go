//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// postfixMTA is one Postfix instance of its own: config directory
// <Dir>/postfix, queue <Dir>/spool/postfix (not inside the config
// directory: postfix check warns about every file there not owned by root),
// log <Dir>/log/postfix.log. Its master runs in a mount namespace that
// shows the stage's hosts file as /etc/hosts; the commands that talk to it
// (sendmail, postqueue, postfix stop and logrotate) need no namespace.
type postfixMTA struct {
	dir, cfg, queue, log string
	instances            map[string]string // source IP -> syslog name
	stop                 sync.Once
}

func startPostfix(t *testing.T, c mtaConfig) mta {
	t.Helper()
	c.check(t)
	openDirs(t, c.Dir)
	p := &postfixMTA{
		dir:       c.Dir,
		cfg:       filepath.Join(c.Dir, "postfix"),
		queue:     filepath.Join(c.Dir, "spool", "postfix"),
		log:       filepath.Join(c.Dir, "log", "postfix.log"),
		instances: map[string]string{},
	}
	hosts := c.writeHosts(t)
	// postfix start lays out the queue (postfix-files) but chdirs into it
	// first.
	for _, d := range []string{p.queue, filepath.Dir(p.log)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(c.Dir, "spool", "postfix-data")
	mkdirOwned(t, data, "postfix")

	// One smtp transport per source IP, picked by the envelope sender's
	// domain. Each has its own syslog name, which ppwatch's source_ips
	// maps to the IP.
	var smtp, bySender strings.Builder
	for i, ip := range c.sourceIPs() {
		tr, name := "smtp-"+letter(i), "postfix-"+letter(i)
		p.instances[ip] = name
		fmt.Fprintf(&smtp, "%s unix - - n - - smtp\n  -o smtp_bind_address=%s\n  -o syslog_name=%s\n", tr, ip, name)
		for _, d := range c.sendersOf(ip) {
			fmt.Fprintf(&bySender, "@%s %s:\n", d, tr)
		}
	}
	// transport_maps names only the next hop (the transport field is
	// empty), so the sender-dependent default transport still picks the
	// source IP. Bounces and notices (to the sender domains, to
	// postmaster@myhostname) are discarded here.
	var transport strings.Builder
	for _, r := range c.Routes {
		_, port, _ := r.ipPort()
		fmt.Fprintf(&transport, "%s :[%s]:%d\n", r.Domain, r.Host, port)
	}
	for d := range c.Senders {
		fmt.Fprintf(&transport, "%s discard:\n", d)
	}
	fmt.Fprintf(&transport, "%s discard:\n", postfixHostname)

	life := int(c.lifetime() / time.Second)
	writeFile(t, filepath.Join(p.cfg, "main.cf"), fmt.Sprintf(postfixMain, p.cfg, p.queue,
		data, postfixHostname, p.log, filepath.Dir(p.log), life, life))
	writeFile(t, filepath.Join(p.cfg, "master.cf"), postfixMaster+smtp.String())
	writeFile(t, filepath.Join(p.cfg, "transport"), transport.String())
	writeFile(t, filepath.Join(p.cfg, "sender_transport"), bySender.String())

	adoptOrphans(t)
	t.Cleanup(p.Stop)
	if out, err := namespaced([]bind{{hosts, "/etc/hosts"}}, false, "postfix", "-c", p.cfg, "start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start: %v: %s\nlog:\n%s", err, out, p.Tail(20))
	}
	if !waitLog(p.log, "postfix/master", 10*time.Second) {
		t.Fatalf("postfix logged no start; log:\n%s", p.Tail(20))
	}
	return p
}

// postfixMain is main.cf: config_directory, queue_directory,
// data_directory, myhostname, maillog_file, maillog_file_prefixes,
// maximal_queue_lifetime and bounce_queue_lifetime (seconds).
const postfixMain = `compatibility_level = 3.6
config_directory = %s
queue_directory = %s
data_directory = %s
mail_owner = postfix
setgid_group = postdrop
myhostname = %s
myorigin = $myhostname
mydestination =
relayhost =
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
local_recipient_maps =
biff = no

# Logging: a file of its own, rotated by postfix logrotate.
maillog_file = %s
maillog_file_prefixes = %s
maillog_file_compressor = gzip

# No DNS: next hops are [host]:port, resolved through /etc/hosts (the
# stage's file in the master's mount namespace).
smtp_dns_support_level = disabled
smtp_host_lookup = native
transport_maps = texthash:$config_directory/transport
sender_dependent_default_transport_maps = texthash:$config_directory/sender_transport
# A sender without a source IP, to a domain that is not routed: refused
# here instead of being sent anywhere.
default_transport = error:5.3.0 no route on the e2e stage

# One delivery, one connection: every attempt is a line of its own.
smtp_connection_cache_on_demand = no
smtp_connection_cache_destinations =

# Deferred mail is retried within seconds, and failures at a receiver do
# not suspend deliveries to it for long.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = %ds
bounce_queue_lifetime = %ds
smtp_destination_concurrency_failed_cohort_limit = 100
default_destination_concurrency_failed_cohort_limit = 100
delay_warning_time = 0
`

// postfixMaster is master.cf without the smtp transports; chroot is off
// everywhere (the queue is not laid out for it). No smtpd: nothing is
// received over the network.
const postfixMaster = `pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
postlog   unix-dgram n  -       n       -       1       postlogd
smtp      unix  -       -       n       -       -       smtp
`

func (p *postfixMTA) Name() string              { return "postfix" }
func (p *postfixMTA) LogPath() string           { return p.log }
func (p *postfixMTA) Instance(ip string) string { return p.instances[ip] }
func (p *postfixMTA) Tail(n int) string         { return tailFile(p.log, n) }

func (p *postfixMTA) Send(t *testing.T, from string, to []string, messageID string) {
	t.Helper()
	argv := append([]string{"/usr/sbin/sendmail", "-C", p.cfg, "-i", "-f", from, "--"}, to...)
	inject(t, messageText(from, to, messageID), argv...)
}

// Queued counts the messages postqueue lists (one JSON object a line),
// maildrop included.
func (p *postfixMTA) Queued(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("postqueue", "-c", p.cfg, "-j").Output()
	if err != nil {
		t.Fatalf("postqueue -j: %v", err)
	}
	return strings.Count(string(out), "\n")
}

// Rotate has Postfix rename the log (to postfix.log.YYYYMMDD-HHMMSS), start
// a new one and gzip the old one.
func (p *postfixMTA) Rotate(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("postfix", "-c", p.cfg, "logrotate").CombinedOutput(); err != nil {
		t.Fatalf("postfix logrotate: %v: %s", err, out)
	}
}

// Attempts finds the queue id of the message's cleanup line ("QID:
// message-id=<id>") and returns that queue id's smtp, error and bounce
// lines with to=.
func (p *postfixMTA) Attempts(messageID string) []string {
	lines := readLines(p.log)
	qid := ""
	for _, l := range lines {
		if i := strings.Index(l, ": message-id=<"+messageID+">"); i > 0 {
			f := strings.Fields(l[:i])
			qid = f[len(f)-1]
			break
		}
	}
	if qid == "" {
		return nil
	}
	var out []string
	for _, l := range lines {
		if strings.Contains(l, " "+qid+": to=<") && !strings.Contains(l, "/discard[") {
			out = append(out, l)
		}
	}
	return out
}

// Stop stops the master (which stops its children), then waits for every
// process of the instance to end, killing stragglers.
func (p *postfixMTA) Stop() {
	p.stop.Do(func() {
		before := procsOf(p.dir)
		exec.Command("postfix", "-c", p.cfg, "stop").Run() // fails when it is not running
		if left := reap(p.dir, before, 10*time.Second); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "postfix: killed processes left after postfix stop: %v\n", left)
		}
	})
}
