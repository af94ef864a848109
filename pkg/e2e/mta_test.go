//go:build e2e

package e2e

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/pkg/internal/smtpfake"
)

var eximBin = flag.String("exim", "/opt/ppwatch-e2e/exim/usr/sbin/exim4", "the exim4 binary .ci/e2e-setup unpacks")

// route sends the mail for Domain to Host, a name the MTA resolves (through
// the stage's own hosts file, never DNS) to the IP of Addr, and connects to
// Addr ("127.0.0.10:34567": any port).
type route struct{ Domain, Host, Addr string }

type mtaConfig struct {
	Dir     string            // a fresh directory (t.TempDir()) for config, spool and log
	Routes  []route           // the only domains mail leaves for
	Senders map[string]string // envelope-sender domain -> source IP the MTA binds to
	// Lifetime is how long a deferred message is retried (every second or
	// two) before it bounces; 0 means one minute.
	Lifetime time.Duration
}

type mta interface {
	Name() string              // "postfix" or "exim"
	LogPath() string           // the log file ppwatch follows (Postfix: maillog_file; Exim: mainlog)
	Instance(ip string) string // the Postfix syslog name / Exim transport name that sends from ip
	// Send injects one message through the MTA's own sendmail command.
	Send(t *testing.T, from string, to []string, messageID string)
	Queued(t *testing.T) int // messages still in the queue
	Rotate(t *testing.T)     // rotates LogPath the way the MTA's own tools do
	Tail(n int) string       // last n lines of the log, for failure output
	// Attempts returns the log lines about delivering the message with
	// this Message-ID, in log order: Postfix's to= lines of its queue id
	// (smtp, error; not discard), Exim's =>, ->, == and ** lines of its id
	// ("retry time not reached" and "retry timeout exceeded" included).
	Attempts(messageID string) []string
	Stop() // stops the MTA and every process it started; registered with t.Cleanup
}

// Bounces and notices go to these domains (the envelope senders' and the
// MTA's own); both MTAs discard them locally, so they never reach a fake
// receiver and change its tallies.
const (
	postfixHostname = "out.e2e.example"
	eximHostname    = "out2.e2e.example"
)

func (c mtaConfig) lifetime() time.Duration {
	if c.Lifetime <= 0 {
		return time.Minute
	}
	return c.Lifetime
}

// check fails the test on a configuration the MTAs cannot express.
func (c mtaConfig) check(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the MTAs need root: run the e2e tests as root")
	}
	if c.Dir == "" || len(c.Routes) == 0 || len(c.Senders) == 0 {
		t.Fatalf("mtaConfig needs Dir, Routes and Senders: %+v", c)
	}
	for _, r := range c.Routes {
		if _, _, err := r.ipPort(); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Senders[r.Domain]; ok {
			t.Fatalf("%s is both a route and a sender domain", r.Domain)
		}
	}
	for d, ip := range c.Senders {
		if a := net.ParseIP(ip); a == nil || a.To4() == nil || !a.IsLoopback() {
			t.Fatalf("sender %s: source IP %q is not an IPv4 loopback address", d, ip)
		}
	}
}

func (r route) ipPort() (ip string, port int, err error) {
	h, p, err := net.SplitHostPort(r.Addr)
	if err != nil {
		return "", 0, fmt.Errorf("route %s: %v", r.Domain, err)
	}
	a := net.ParseIP(h)
	if a == nil || a.To4() == nil || !a.IsLoopback() {
		// Mail must never leave the machine.
		return "", 0, fmt.Errorf("route %s: %s is not an IPv4 loopback address", r.Domain, h)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port <= 0 {
		return "", 0, fmt.Errorf("route %s: bad port %q", r.Domain, p)
	}
	return h, port, nil
}

// sourceIPs lists the distinct source IPs in order; the i-th one gets the
// instance letter "abc…"[i].
func (c mtaConfig) sourceIPs() []string {
	var ips []string
	for _, ip := range c.Senders {
		if !slices.Contains(ips, ip) {
			ips = append(ips, ip)
		}
	}
	sort.Slice(ips, func(i, j int) bool { return ipLess(ips[i], ips[j]) })
	return ips
}

func ipLess(a, b string) bool {
	return string(net.ParseIP(a).To16()) < string(net.ParseIP(b).To16())
}

func letter(i int) string { return string(rune('a' + i)) }

// sendersOf returns the sender domains that send from ip, sorted.
func (c mtaConfig) sendersOf(ip string) []string {
	var ds []string
	for d, v := range c.Senders {
		if v == ip {
			ds = append(ds, d)
		}
	}
	sort.Strings(ds)
	return ds
}

// writeHosts writes the hosts file the MTA sees as /etc/hosts: each route's
// Host at its Addr's IP.
func (c mtaConfig) writeHosts(t *testing.T) string {
	t.Helper()
	at := map[string]string{}
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n")
	for _, r := range c.Routes {
		ip, _, _ := r.ipPort()
		if old, ok := at[r.Host]; ok && old != ip {
			t.Fatalf("host %s is routed to both %s and %s", r.Host, old, ip)
		}
		if _, ok := at[r.Host]; !ok {
			at[r.Host] = ip
			fmt.Fprintf(&b, "%s\t%s\n", ip, r.Host)
		}
	}
	p := filepath.Join(c.Dir, "hosts")
	writeFile(t, p, b.String())
	return p
}

// bind is a file mounted over another in the MTA's mount namespace.
type bind struct{ src, target string }

// namespaced runs argv in a private mount namespace with binds mounted
// (hosts over /etc/hosts, so that the MTA resolves the pphosted names to
// loopback addresses while the machine's files stay as they are). With
// pidNS the command also gets its own PID namespace: when its init (argv)
// dies, the kernel kills every process in it.
func namespaced(binds []bind, pidNS bool, argv ...string) *exec.Cmd {
	args := []string{"--mount", "--propagation", "private"}
	if pidNS {
		args = append(args, "--pid", "--fork")
	}
	script := ""
	for i, b := range binds {
		script += fmt.Sprintf(`mount --bind "$%d" %q && `, i+1, b.target)
	}
	script += fmt.Sprintf(`shift %d && exec "$@"`, len(binds))
	args = append(args, "sh", "-c", script, "sh")
	for _, b := range binds {
		args = append(args, b.src)
	}
	args = append(args, argv...)
	return exec.Command("unshare", args...)
}

// openDirs lets the MTAs' unprivileged processes (postfix, Debian-exim)
// reach their spool and log under dir: t.TempDir makes its parent 0700.
func openDirs(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdirOwned(t *testing.T, path, user string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", user+":", path).CombinedOutput(); err != nil {
		t.Fatalf("chown %s %s: %v: %s", user, path, err, out)
	}
}

// messageText is what Send injects: the headers ppwatch's users would see and a
// short body.
func messageText(from string, to []string, messageID string) string {
	return fmt.Sprintf("From: <%s>\r\nTo: %s\r\nSubject: e2e %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n\r\nThis is a test message of ppwatch's system test.\r\n",
		from, "<"+strings.Join(to, ">, <")+">", messageID, time.Now().Format(time.RFC1123Z), messageID)
}

// inject runs an MTA's sendmail command with the message on its input.
func inject(t *testing.T, msg string, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

// tailFile returns the last n lines of path.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

func readLines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// waitLog waits until the log at path holds a line containing s.
func waitLog(path, s string, timeout time.Duration) bool {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}

// procsOf returns the processes that work in dir or below it, or name it
// on their command line: every Postfix daemon works in its queue directory,
// and every Exim process carries -C <Dir>/exim/exim.conf (forked ones
// too), so these are the MTA's and no one else's.
func procsOf(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if cwd == dir || strings.HasPrefix(cwd, dir+"/") || strings.Contains(string(cmdline), dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// reap waits up to timeout for the processes of dir (procsOf) to end, then
// kills those left (by pid: they were found in dir) and returns them. It
// also reaps those that became the test's children (see adoptOrphans),
// among them and the ones in before (a list taken before the MTA was
// told to stop, when they still showed their directory).
func reap(dir string, before []int, timeout time.Duration) []int {
	seen := map[int]bool{}
	for _, pid := range before {
		seen[pid] = true
	}
	var left []int
	for end := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		left = procsOf(dir)
		for _, pid := range left {
			seen[pid] = true
		}
		if len(left) == 0 || time.Now().After(end) {
			break
		}
	}
	for _, pid := range left {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for pid := range seen {
		for i := 0; i < 100; i++ {
			// ECHILD: another process's child, which its parent reaps.
			if got, err := syscall.Wait4(pid, nil, syscall.WNOHANG, nil); got == pid || err != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return left
}

// adoptOrphans makes the test process the reaper of its descendants'
// orphans: Postfix's master runs detached from the postfix command, and its
// daemons outlive it by a moment at postfix stop. Without this they would
// go to init, and this machine's init leaves them as zombies.
func adoptOrphans(t *testing.T) {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
	}
}

// waitQueue waits until m's queue is empty: every message delivered or
// bounced.
func waitQueue(t *testing.T, m mta, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, m.Name()+"'s queue empty", func() string {
		if n := m.Queued(t); n > 0 {
			return fmt.Sprintf("%d queued; log:\n%s", n, m.Tail(40))
		}
		return ""
	})
}

// receivedFrom is the client IP the receiver accepted messageID from, or "".
func receivedFrom(s *smtpfake.Server, messageID string) string {
	for _, d := range s.Tally().Delivered {
		if d.MessageID == "<"+messageID+">" {
			return d.Client
		}
	}
	return ""
}

// TestMTASmoke checks the stage's MTAs on their own: each delivers from
// both source IPs to receivers it knows by their pphosted names, and logs
// what ppwatch reads.
func TestMTASmoke(t *testing.T) {
	var sinks []*smtpfake.Server
	for _, ip := range []string{"127.0.0.10", "127.0.0.11"} {
		s, err := smtpfake.Start(ip+":0", "mx."+ip+".e2e.example", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		sinks = append(sinks, s)
	}
	routes := []route{
		{Domain: "pp1.example", Host: "mx0a-00100001.pphosted.com", Addr: sinks[0].Addr()},
		{Domain: "pp2.example", Host: "mx0b-00100002.pphosted.com", Addr: sinks[1].Addr()},
	}
	senders := map[string]string{"a.example": "127.0.0.2", "b.example": "127.0.0.3"}
	start := map[string]func(t *testing.T, c mtaConfig) mta{
		"postfix": startPostfix,
		"exim": func(t *testing.T, c mtaConfig) mta {
			if _, err := os.Stat(*eximBin); err != nil {
				t.Fatalf("no exim binary (%v): run .ci/e2e-setup, or give -exim", err)
			}
			bin, _ := filepath.Abs(*eximBin)
			return startExim(t, c, bin)
		},
	}
	for _, name := range []string{"postfix", "exim"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			m := start[name](t, mtaConfig{Dir: dir, Routes: routes, Senders: senders})
			type sent struct {
				id string
				r  route
				s  *smtpfake.Server
				ip string // the source IP
			}
			var all []sent
			for i, r := range routes {
				for _, d := range []string{"a.example", "b.example"} {
					id := fmt.Sprintf("smoke-%s-%d-%s@e2e.example", name, i, d)
					m.Send(t, "sender@"+d, []string{"user@" + r.Domain}, id)
					all = append(all, sent{id, r, sinks[i], senders[d]})
				}
			}
			waitQueue(t, m, 60*time.Second)
			for _, s := range all {
				if got := receivedFrom(s.s, s.id); got != s.ip {
					t.Errorf("%s: the receiver got it from %q, want %s", s.id, got, s.ip)
				}
				lines := m.Attempts(s.id)
				if len(lines) != 1 {
					t.Errorf("%s: %d attempt lines, want 1: %q", s.id, len(lines), lines)
					continue
				}
				ip, port, _ := s.r.ipPort()
				var want []string
				switch name {
				case "postfix":
					want = []string{" " + m.Instance(s.ip) + "/smtp[", fmt.Sprintf("relay=%s[%s]:%d,", s.r.Host, ip, port), "status=sent (250 2.0.0 "}
				case "exim":
					want = []string{" => user@" + s.r.Domain + " ", " T=" + m.Instance(s.ip) + " ",
						fmt.Sprintf(" H=%s [%s]:%d ", s.r.Host, ip, port), " I=[" + s.ip + "]:", ` C="250 `}
				}
				for _, w := range want {
					if !strings.Contains(lines[0], w) {
						t.Errorf("%s: %q lacks %q", s.id, lines[0], w)
					}
				}
				t.Logf("%s", lines[0])
			}
			m.Rotate(t)
			m.Send(t, "sender@a.example", []string{"user@pp1.example"}, "smoke-after-rotate@e2e.example")
			waitQueue(t, m, 60*time.Second)
			if len(m.Attempts("smoke-after-rotate@e2e.example")) != 1 {
				t.Errorf("no delivery logged in the new log after the rotation; log:\n%s", m.Tail(20))
			}
			// Postfix: postfix.log.YYYYMMDD-HHMMSS.gz; Exim: exim_mainlog.1.
			if old, _ := filepath.Glob(m.LogPath() + ".*"); len(old) != 1 {
				t.Errorf("rotated logs: %q, want one", old)
			} else {
				t.Logf("rotated to %s", filepath.Base(old[0]))
			}
			if t.Failed() {
				t.Logf("%s log:\n%s", name, m.Tail(60))
			}
			m.Stop()
			if left := procsOf(dir); len(left) > 0 {
				t.Errorf("processes left after Stop: %v", left)
			}
		})
	}
}
