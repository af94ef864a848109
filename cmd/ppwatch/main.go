// Command ppwatch watches Postfix, Exim and PowerMTA logs for Proofpoint
// blocks and deferrals. "ppwatch run" is the daemon: flags, signals and
// exit codes here, the rest in pkg/app; the one-shot commands live in
// pkg/cli.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // timezone names in the config work on hosts without tzdata

	"github.com/ppwatch/ppwatch/pkg/app"
	"github.com/ppwatch/ppwatch/pkg/cli"
	"github.com/ppwatch/ppwatch/pkg/config"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "run" {
		os.Exit(run(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(cli.Main(os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}

// addresses is a repeatable flag, as every exporter's --web.listen-address.
type addresses []string

func (a *addresses) String() string { return strings.Join(*a, ",") }
func (a *addresses) Set(s string) error {
	if err := config.CheckListen(s); err != nil {
		return err
	}
	*a = append(*a, s)
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on errors too: help is printed below
	var configFile string
	fs.StringVar(&configFile, "config.file", "", "YAML configuration `file` (default: built-in defaults)")
	fs.StringVar(&configFile, "config", "", "alias of --config.file")
	var listen addresses
	fs.Var(&listen, "web.listen-address", "`address` to serve metrics and pages on, host:port; repeat for several (default: the config's listen, \":9797\")")
	fs.Var(&listen, "listen", "alias of --web.listen-address")
	telemetryPath := fs.String("web.telemetry-path", "/metrics", "`path` under which to serve the metrics")
	state := fs.String("state", "", "state `file` (overrides the config's state_file)")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web config `file` for TLS and basic auth")
	pprof := fs.Bool("web.enable-pprof", false, "serve Go profiles under /debug/pprof/")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	format := fs.String("log.format", "json", "log format: json, logfmt or console")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage of ppwatch run:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return cli.ExitOK
		}
		fmt.Fprintf(stderr, "ppwatch: run: %v (see ppwatch run --help)\n", err)
		return cli.ExitUsage
	}
	if *showVersion {
		return cli.Main([]string{"version"}, cli.Env{Stdout: stdout, Stderr: stderr})
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ppwatch: run: unexpected argument %q\n", fs.Arg(0))
		return cli.ExitUsage
	}
	if !strings.HasPrefix(*telemetryPath, "/") || *telemetryPath == "/" {
		fmt.Fprintf(stderr, "ppwatch: run: --web.telemetry-path %q: give a path below /, like /metrics\n", *telemetryPath)
		return cli.ExitUsage
	}
	log, err := app.NewLogger(stderr, *level, *format)
	if err != nil {
		fmt.Fprintf(stderr, "ppwatch: %v\n", err)
		return cli.ExitUsage
	}
	app.SetMemoryDefaults()
	load := func() (*config.Config, error) {
		cfg := config.Default()
		if configFile != "" {
			var err error
			if cfg, err = config.Load(configFile); err != nil {
				return nil, err
			}
		}
		if *state != "" {
			cfg.StateFile = *state
			cfg.SetByFlag("state_file", "--state")
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		log.Error().Err(err).Msg("bad configuration")
		return cli.ExitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{})
	go func() {
		for range hup {
			reload <- struct{}{}
		}
	}()
	err = app.Run(ctx, app.Options{Config: cfg, WebConfigFile: *webConfig, Logger: log, Load: load, EnablePprof: *pprof,
		ListenAddresses: listen, TelemetryPath: *telemetryPath}, reload)
	switch {
	case err == nil:
		return cli.ExitOK
	case app.NeedsAdmin(err):
		// A restart cannot mend it: exit 2, which the unit does not restart.
		log.Error().Err(err).Msg("cannot start")
		return cli.ExitUsage
	}
	log.Error().Err(err).Msg("stopped with an error")
	return cli.ExitRuntime
}
