// Command ppwatch watches Postfix, Exim and PowerMTA logs for Proofpoint
// blocks and deferrals. "ppwatch run" is the daemon (wired here: flags,
// config, logger, signals); the one-shot commands live in pkg/cli.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // timezone names in the config work on hosts without tzdata

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/app"
	"github.com/ppwatch/ppwatch/pkg/cli"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/store"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "run" {
		os.Exit(run(os.Args[2:], os.Stderr))
	}
	os.Exit(cli.Main(os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}

// defaultMemoryLimit is the daemon's soft Go memory limit.
const defaultMemoryLimit = 48 << 20

// defaultGCPercent is the daemon's GOGC.
const defaultGCPercent = 200

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML configuration `file` (default: built-in defaults)")
	listen := fs.String("listen", "", "address to serve metrics on (overrides the config's listen)")
	state := fs.String("state", "", "state `file` (overrides the config's state_file)")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web config `file` for TLS and basic auth")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	format := fs.String("log.format", "json", "log format: json or console")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ExitOK
		}
		return cli.ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ppwatch: run: unexpected argument %q\n", fs.Arg(0))
		return cli.ExitUsage
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil || *level == "" {
		fmt.Fprintf(stderr, "ppwatch: --log.level: unknown level %q (use debug, info, warn or error)\n", *level)
		return cli.ExitUsage
	}
	var out io.Writer = stderr
	switch *format {
	case "json":
	case "console":
		out = zerolog.ConsoleWriter{Out: stderr}
	default:
		fmt.Fprintf(stderr, "ppwatch: --log.format: unknown format %q (use json or console)\n", *format)
		return cli.ExitUsage
	}
	log := zerolog.New(out).Level(lvl).With().Timestamp().Logger()

	// A soft limit on the Go heap keeps the daemon small on a busy MTA
	// host (the state file's mapped pages come on top); GOMEMLIMIT wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	// Under that limit the heap may grow to three times what is live
	// before a collection: with GOGC's 100 the collector took a quarter of
	// the catch-up time over a small live heap. GOGC wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}

	load := func() (*config.Config, error) {
		cfg := config.Default()
		if *configFile != "" {
			var err error
			if cfg, err = config.Load(*configFile); err != nil {
				return nil, err
			}
		}
		if *listen != "" {
			cfg.Listen = *listen
		}
		if *state != "" {
			cfg.StateFile = *state
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		log.Error().Err(err).Msg("bad configuration")
		return cli.ExitUsage
	}
	a, err := app.New(app.Options{Config: cfg, WebConfigFile: *webConfig, Logger: log})
	if errors.Is(err, app.ErrStateInUse) {
		log.Error().Err(err).Msg("another ppwatch is running on this state file")
		return cli.ExitUsage
	}
	// A restart cannot mend these: exit 2, which the unit does not restart.
	if errors.Is(err, store.ErrDamaged) || errors.Is(err, store.ErrNotStore) || errors.Is(err, store.ErrSchema) {
		log.Error().Err(err).Msg("cannot use the state file")
		return cli.ExitUsage
	}
	if err != nil {
		log.Error().Err(err).Msg("cannot start")
		return cli.ExitRuntime
	}
	if err := a.Start(); err != nil {
		log.Error().Err(err).Msg("cannot start")
		a.Stop()
		if errors.Is(err, app.ErrNoInputs) || errors.Is(err, store.ErrDamaged) {
			return cli.ExitUsage
		}
		return cli.ExitRuntime
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	for {
		select {
		case <-ctx.Done():
			log.Info().Msg("shutting down")
			if err := a.Stop(); err != nil {
				log.Error().Err(err).Msg("shutdown")
				return cli.ExitRuntime
			}
			return cli.ExitOK
		case <-hup:
			cfg, err := load()
			if err == nil {
				err = a.Reload(cfg)
			}
			if err != nil {
				a.ReloadFailed()
				log.Error().Err(err).Msg("config reload failed; the running configuration stays")
			}
		}
	}
}
