//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is a server the test started: its own process group, its output in
// a file, killed with its group at cleanup whatever happened.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// start runs bin with args, output to <dir>/<name>.out.
func start(t *testing.T, dir, name, bin string, args ...string) *proc {
	t.Helper()
	out := filepath.Join(dir, name+".out")
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	logTails = append(logTails, tailer{name, func(n int) string { return tailFile(out, n) }})
	return p
}

func (p *proc) signal(sig syscall.Signal) { syscall.Kill(p.cmd.Process.Pid, sig) }

// kill signals the whole group and waits for the process.
func (p *proc) kill(sig syscall.Signal) {
	syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tailer names a log whose last lines a failure prints.
type tailer struct {
	name string
	tail func(n int) string
}

// logTails are printed when the test fails: every log of the stage.
var logTails []tailer

// printTails writes the last lines of every log of the stage, for a
// failure to be understood from CI's output alone.
func printTails(t *testing.T) {
	for _, l := range logTails {
		t.Logf("==== %s (last lines) ====\n%s", l.name, l.tail(40))
	}
}

// freePort is a free TCP port on ip.
func freePort(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// eventually polls cond every 200 ms until it returns "" (done) and fails
// with its last answer after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still waiting for %s: %s", d, what, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run runs a command to its end, failing with its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
