// Package cli implements ppwatch's commands. cmd/ppwatch only hands it the
// arguments and streams, so the commands are tested in-process.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ppwatch/ppwatch/parsers"
	"github.com/ppwatch/ppwatch/pkg/app"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/version"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitRuntime = 1
	ExitUsage   = 2
)

// Env is what a command reads and writes.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// usageError is a problem with the arguments or the config: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

var usage = `ppwatch watches MTA logs for Proofpoint blocks and deferrals.

Usage:
  ppwatch parse [--mta auto|` + parsers.Names("|") + `] [--config FILE] [FILE...]
      One JSON delivery event per line, in input order. Files may be gzip'd; no FILE or "-" reads stdin.
  ppwatch scan [--mta auto|` + parsers.Names("|") + `] [--config FILE] [--json] [--since DUR] [--jobs N] FILE...
      One-shot report over historical logs: per source IP, per Proofpoint recipient domain, replies verbatim.
      Files are read in parallel, one per core; the report is the same for any --jobs.
  ppwatch report --ip IP [--domain D] [--since WHEN] [--until WHEN] [--format text|markdown|json|eml] [--update-since WHEN]
              [--check [--dns.server IP:PORT]...] [--url URL]... [--state FILE] [--mask-recipients] [--from ADDR] [--mta …] [--config FILE] [FILE...]
      The evidence packet of one sending IP for Proofpoint, from the logs: identifiers, the kind of case and
      what to ask, replies verbatim, messages deferred and their outcomes, sample attempts with Message-ID and
      sender, volume by day, and the message to send (eml: a draft to postmaster@proofpoint.com).
      --check makes the sender checks (as ppwatch check) now and puts them in, failures first.
      --url reads a running daemon's state file (repeatable: a fleet's daemons are merged into one packet),
      --state a stopped daemon's.
  ppwatch tail [--mta auto|` + parsers.Names("|") + `] [--config FILE] [--all] [--json] FILE...
      Live view of the attempts as they are written, from the files' ends, through rotation (like tail -F):
      one line per Proofpoint block or deferral (time, sending IP, recipient domain, block|deferral,
      class, the reply), red and yellow on a terminal; --all for every attempt, --json for parse's JSON.
      A missing file is waited for. Ctrl-C stops it.
  ppwatch run [--config.file FILE] [--web.listen-address ADDR]... [--web.telemetry-path PATH] [--state FILE]
              [--web.config.file FILE] [--web.enable-pprof] [--log.level L] [--log.format json|logfmt|console] [--version]
      The daemon: tails the logs, keeps counts in the state file, serves Prometheus metrics.
      --config and --listen are aliases of --config.file and --web.listen-address.
  ppwatch check-config [--web.config.file FILE] FILE
      Validate a configuration file with every check run makes before it serves (all problems at once,
      in line order): exit 0 when it is good, 2 with the reasons when not.
  ppwatch check [--ip IP]... [--domain D]... [--recipient-domain D]... [--dns.server IP:PORT]... [--dns.timeout DUR]
                [--json] [--config FILE]
      The sender's DNS as Proofpoint scores it, one line per check (PASS, WARN, FAIL, UNKNOWN, the reason and the
      record seen): PTR, FCrDNS and DNSBLs per IP; SPF per IP, DMARC and DKIM per domain; whether a recipient
      domain's MX is Proofpoint's. Without arguments, what the config names (hygiene, source_ips).
      Exit 0 when nothing fails, 1 when something does.
  ppwatch state check [--config FILE] [STATE_FILE]
      Check all of a state file (ppwatch run does the same at start): exit 0 when it is sound,
      2 with what is wrong when ppwatch would refuse it. Default: the config's state_file.
  ppwatch state repair [--config FILE] [--out NEW] [STATE_FILE]
      Copy every readable record of a damaged state file into NEW (default STATE_FILE.repaired)
      and say what could not be saved and what that means. The damaged file is only read.
  ppwatch version (or --version)
  ppwatch man
      This text as a man page (roff), the one the Debian package installs as ppwatch(1).

Exit codes: 0 ok, 1 runtime error, 2 usage or config error, or a state file ppwatch would refuse.
`

// Main runs the command in args (without the program name) and returns the
// exit code.
func Main(args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return ExitUsage
	}
	var err error
	switch args[0] {
	case "parse":
		err = runParse(args[1:], env)
	case "scan":
		err = runScan(args[1:], env)
	case "report":
		err = runReport(args[1:], env)
	case "tail":
		err = runTail(args[1:], env)
	case "check-config":
		err = runCheckConfig(args[1:], env)
	case "check":
		err = runCheck(args[1:], env)
	case "state":
		err = runState(args[1:], env)
	case "version", "--version", "-version":
		fmt.Fprintln(env.Stdout, version.Print())
	case "help", "-h", "--help", "-help":
		fmt.Fprint(env.Stdout, usage)
	case "man":
		manPage(env.Stdout)
	default:
		err = usagef("unknown command %q (run \"ppwatch help\")", args[0])
	}
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "ppwatch: %v\n", err)
	var ue *usageError
	var se *unusableError
	if errors.As(err, &ue) || errors.As(err, &se) {
		return ExitUsage
	}
	return ExitRuntime
}

func runCheckConfig(args []string, env Env) error {
	fs := newFlagSet("check-config", env)
	webConfig := fs.String("web.config.file", "", "also check this exporter-toolkit web config `file`, as run would")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("check-config: give one configuration file (see ppwatch check-config --help)")
	}
	// The file's own errors in line order, then what the host lacks.
	cfg, err := config.Inspect(files[0])
	switch {
	case err == nil:
		err = app.Check(cfg, *webConfig)
	case cfg != nil:
		err = errors.Join(err, app.CheckHost(cfg, *webConfig))
	}
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(env.Stdout, "%s: ok\n", files[0])
	return nil
}

// newFlagSet is a command's flags: parse errors are returned, not printed,
// and the help goes to stdout, as a user piping it to less expects.
func newFlagSet(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "Usage of ppwatch %s:\n", name)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseFlags lets flags come before or after the file names, as users type
// them ("ppwatch scan maillog --json").
// A help request prints the command's help on stdout; a bad flag is one
// error, printed once by Main.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	help := fs.Usage
	fs.Usage = func() {} // the flag package calls it on errors too
	defer func() { fs.Usage = help }()
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help()
				return nil, err
			}
			return nil, usagef("%s: %v (see ppwatch %s --help)", fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		i := 0
		for i < len(rest) && (!strings.HasPrefix(rest[i], "-") || rest[i] == "-") {
			i++
		}
		files = append(files, rest[:i]...)
		if i == len(rest) {
			return files, nil
		}
		if rest[i] == "--" {
			return append(files, rest[i+1:]...), nil
		}
		args = rest[i:]
	}
}
