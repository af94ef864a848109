//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// eximMTA is one Exim with a configuration file of its own
// (<Dir>/exim/exim.conf), spool <Dir>/exim/spool and main log
// <Dir>/log/exim_mainlog. Its daemon only runs the queue (every second): it
// runs in the foreground in a mount namespace with the stage's /etc/hosts
// and a PID namespace, so killing it ends every process it started.
// Messages are injected with -odq, so only the daemon's queue runners
// deliver, inside the namespace.
type eximMTA struct {
	dir, bin, conf, log string
	instances           map[string]string // source IP -> transport name
	daemon              *exec.Cmd
	stop                sync.Once
}

// Compiled into Debian's binary.
const (
	eximUser    = "Debian-exim"
	eximTrusted = "/etc/exim4/trusted_configs" // TRUSTED_CONFIG_LIST
)

func startExim(t *testing.T, c mtaConfig, exim string) mta {
	t.Helper()
	c.check(t)
	openDirs(t, c.Dir)
	// The daemon re-executes its binary as Debian-exim for every queue run.
	for d := filepath.Dir(exim); d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Fatalf("%s: Debian-exim cannot reach the Exim binary through %s (%v): unpack it where every directory may be entered (.ci/e2e-setup uses /opt/ppwatch-e2e)", exim, d, err)
		}
	}
	e := &eximMTA{
		dir:       c.Dir,
		bin:       exim,
		conf:      filepath.Join(c.Dir, "exim", "exim.conf"),
		log:       filepath.Join(c.Dir, "log", "exim_mainlog"),
		instances: map[string]string{},
	}
	hosts := c.writeHosts(t)
	spool := filepath.Join(c.Dir, "exim", "spool")
	mkdirOwned(t, spool, eximUser)
	mkdirOwned(t, filepath.Dir(e.log), eximUser)

	// The route list: one "domain host::port byname" item per route (the
	// doubled colon puts the port in the host list item).
	var items []string
	var domains []string
	for _, r := range c.Routes {
		_, port, _ := r.ipPort()
		items = append(items, fmt.Sprintf("%s %s::%d byname", r.Domain, r.Host, port))
		domains = append(domains, r.Domain)
	}
	// One router and one smtp transport per source IP, the router picked
	// by the envelope sender. The transport's name is the instance
	// ppwatch's source_ips maps to the IP (Exim logs it as T=).
	var routers, transports strings.Builder
	for i, ip := range c.sourceIPs() {
		tr := "remote_smtp_" + letter(i)
		e.instances[ip] = tr
		var senders []string
		for _, d := range c.sendersOf(ip) {
			senders = append(senders, "*@"+d)
		}
		fmt.Fprintf(&routers, eximRouter, letter(i), strings.Join(senders, " : "), strings.Join(domains, " : "), strings.Join(items, " ; "), tr)
		fmt.Fprintf(&transports, eximTransport, tr, ip)
	}
	writeFile(t, e.conf, fmt.Sprintf(eximConf, eximHostname, exim, spool, filepath.Dir(e.log),
		routers.String(), transports.String(), c.lifetime()/time.Second))

	// The daemon listens (-bdf is the only foreground mode), on a free
	// loopback port; its ACL-less listener refuses every recipient.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// Exim re-executes itself for queue runs and bounces; it keeps root
	// privilege with -C only for a file that TRUSTED_CONFIG_LIST names, so
	// the namespace shows a list naming this one (otherwise the queue
	// runners run as Debian-exim and log "exim user lost privilege for
	// using -C option" to the main and panic logs every second).
	if _, err := os.Stat(eximTrusted); err != nil {
		t.Fatalf("%v: run .ci/e2e-setup", err)
	}
	trusted := filepath.Join(c.Dir, "exim", "trusted_configs")
	writeFile(t, trusted, e.conf+"\n")
	binds := []bind{{hosts, "/etc/hosts"}, {trusted, eximTrusted}}
	e.daemon = namespaced(binds, true, exim, "-C", e.conf, "-bdf", "-q1s", "-oX", "127.0.0.1."+strconv.Itoa(port))
	outPath := filepath.Join(c.Dir, "exim", "daemon.out")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close() // the daemon has its own copy
	e.daemon.Stdout, e.daemon.Stderr = out, out
	if err := e.daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	if !waitLog(e.log, "daemon started", 10*time.Second) {
		t.Fatalf("exim logged no daemon start; output:\n%s\nlog:\n%s", tailFile(outPath, 20), e.Tail(20))
	}
	return e
}

// eximConf: primary_hostname, exim_path, spool_directory, log directory,
// routers, transports, retry lifetime (seconds).
const eximConf = `primary_hostname = %s
exim_path = %s
spool_directory = %s
log_file_path = %s/exim_%%slog
# What ppwatch's Exim parser reads: I= the source IP (4.96 logs it only
# with +incoming_interface too), H=…:port, F= the envelope sender, DT= on
# failures too.
log_selector = +incoming_interface +outgoing_interface +outgoing_port +sender_on_delivery +received_recipients +deliver_time
keep_environment =
# The daemon's listener (see startExim) takes no mail: without
# acl_smtp_rcpt every recipient is refused. No TLS, so no warning about a
# missing certificate.
tls_advertise_hosts =
host_lookup =
rfc1413_hosts =
# Bounces that cannot be delivered are dropped, not frozen for days.
ignore_bounce_errors_after = 0s
timeout_frozen_after = 1m
delay_warning = 0s

begin routers

%s
# Everything else, bounces to the sender domains included, is dropped here:
# nothing leaves but the routed domains.
discard:
  driver = redirect
  data = :blackhole:

begin transports

%s
begin retry

# Retried every second until the lifetime, then bounced.
* * F,%ds,1s
`

// eximRouter: instance letter, senders, domains, route_list, transport.
const eximRouter = `route_%s:
  driver = manualroute
  senders = %s
  domains = %s
  route_list = <; %s
  transport = %s
  no_more
`

// eximTransport: name, source IP. One message a connection, no TLS: each
// attempt is a connection of its own, as with Postfix.
const eximTransport = `%s:
  driver = smtp
  interface = %s
  connection_max_messages = 1
  hosts_avoid_tls = *
`

func (e *eximMTA) Name() string              { return "exim" }
func (e *eximMTA) LogPath() string           { return e.log }
func (e *eximMTA) Instance(ip string) string { return e.instances[ip] }
func (e *eximMTA) Tail(n int) string         { return tailFile(e.log, n) }

func (e *eximMTA) Send(t *testing.T, from string, to []string, messageID string) {
	t.Helper()
	argv := append([]string{e.bin, "-C", e.conf, "-odq", "-oi", "-f", from, "--"}, to...)
	inject(t, messageText(from, to, messageID), argv...)
}

func (e *eximMTA) Queued(t *testing.T) int {
	t.Helper()
	out, err := exec.Command(e.bin, "-C", e.conf, "-bpc").Output()
	if err != nil {
		t.Fatalf("exim -bpc: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("exim -bpc: %q", out)
	}
	return n
}

// Rotate renames the main log to exim_mainlog.1, as Debian's logrotate
// does; Exim notices the new inode and starts a new file with the next line
// it writes (exicyclog is in exim4-base, which is not installed).
func (e *eximMTA) Rotate(t *testing.T) {
	t.Helper()
	if err := os.Rename(e.log, e.log+".1"); err != nil {
		t.Fatal(err)
	}
}

// Attempts finds the message's arrival ("<id> <= … id=<Message-ID>") and
// returns that id's =>, ->, ==, ** lines.
func (e *eximMTA) Attempts(messageID string) []string {
	lines := readLines(e.log)
	id := ""
	for _, l := range lines {
		if strings.Contains(l, " <= ") && strings.Contains(l, " id="+messageID+" ") {
			f := strings.Fields(l)
			id = f[2]
			break
		}
	}
	if id == "" {
		return nil
	}
	var out []string
	for _, l := range lines {
		for _, flag := range []string{" => ", " -> ", " == ", " ** "} {
			if strings.Contains(l, " "+id+flag) {
				out = append(out, l)
			}
		}
	}
	return out
}

// Stop kills the daemon, the PID namespace's init, so that the kernel kills
// every process it started; unshare then exits. (unshare --kill-child
// would not do: the daemon's switch to the Exim user clears the
// parent-death signal, and unshare blocks SIGTERM.)
func (e *eximMTA) Stop() {
	e.stop.Do(func() {
		if e.daemon != nil && e.daemon.Process != nil {
			pid := e.daemon.Process.Pid
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
			for _, f := range strings.Fields(string(b)) {
				if child, err := strconv.Atoi(f); err == nil {
					syscall.Kill(child, syscall.SIGKILL)
				}
			}
			if len(b) == 0 { // no daemon (it died, or never started): unshare waits for nothing
				e.daemon.Process.Kill()
			}
			e.daemon.Wait()
		}
		if left := reap(e.dir, nil, 10*time.Second); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "exim: killed processes left after the daemon: %v\n", left)
		}
	})
}
