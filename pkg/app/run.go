package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/journal"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/tailer"
)

// Start listens on the configured address and starts reading the inputs.
func (a *App) Start() error {
	if err := a.serve(); err != nil {
		return err
	}
	if err := a.startIngest(a.cfg); err != nil {
		a.srv.Close()
		return err
	}
	a.alerts.start(a.Addr())
	a.mu.Lock()
	a.ready = true
	a.mu.Unlock()
	return nil
}

// Addr is the address the HTTP server listens on (useful with port 0).
func (a *App) Addr() string { return a.ln.Addr().String() }

func (a *App) serve() error {
	if a.opts.WebConfigFile != "" {
		if err := web.Validate(a.opts.WebConfigFile); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", a.opts.WebConfigFile, err)
		}
	}
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", a.cfg.Listen, err)
	}
	a.ln = ln
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg, ErrorHandling: promhttp.ContinueOnError}))
	// Profiles, as Prometheus itself serves them (behind the same auth).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		ready := a.ready
		a.mu.Unlock()
		if !ready {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "OK")
	})
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "ppwatch",
		Description: "Proofpoint blocks and deferrals seen in this host's MTA logs",
		Links: []web.LandingLinks{
			{Address: "/metrics", Text: "Metrics"},
			{Address: "/alerts", Text: "Alerts"},
			{Address: "/-/healthy", Text: "Health"},
			{Address: "/-/ready", Text: "Readiness"},
		},
	})
	if err != nil {
		return err
	}
	mux.Handle("/", landing)
	a.mountPages(mux)
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.httpDone = make(chan error, 1)
	webCfg := a.opts.WebConfigFile
	flags := &web.FlagConfig{WebConfigFile: &webCfg}
	logger := slog.New(slog.NewTextHandler(zerologWriter{a.log}, nil))
	go func() { a.httpDone <- web.Serve(ln, a.srv, flags, logger) }()
	a.log.Info().Str("address", ln.Addr().String()).Msg("serving metrics")
	return nil
}

// journalPrefix marks a journald input: "journald:postfix@-.service,…".
const journalPrefix = "journald:"

// CheckPosition tells whether a saved position can be resumed from: a
// journald cursor under a journald key, else a tailer position. The store
// runs it on every position at open, so that one that cannot be decoded
// refuses the file instead of having its input read again from the start
// while the totals stay.
func CheckPosition(key string, b []byte) error {
	if !strings.HasPrefix(key, journalPrefix) {
		var p tailer.Position
		return p.UnmarshalBinary(b)
	}
	// journalctl --after-cursor takes it as one argument: printable, and
	// never empty, which would read the units' whole journal again.
	if len(b) == 0 {
		return errors.New("empty journald cursor")
	}
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("journald cursor with byte %#x", c)
		}
	}
	return nil
}

// startIngest starts a tailer and the writer with the saved positions.
func (a *App) startIngest(cfg *config.Config) error {
	in, err := newIngester(a.log.With().Str("component", "ingest").Logger(), a.store, a.agg.Load(), a.self, a.now, cfg)
	if err != nil {
		return err
	}
	saved, err := a.store.Positions()
	if err != nil {
		return fmt.Errorf("loading positions: %w", err)
	}
	inputs := cfg.Inputs
	if len(inputs) == 0 {
		inputs = config.DefaultInputs()
		cfg.Inputs = inputs
		for _, i := range inputs {
			in.mtas[i.Path] = i.MTA
		}
	}
	var paths, journals []string
	for _, i := range inputs {
		if strings.HasPrefix(i.Path, journalPrefix) {
			journals = append(journals, i.Path)
		} else {
			paths = append(paths, i.Path)
		}
	}
	if len(inputs) == 0 {
		return ErrNoInputs
	}
	pos := map[string]tailer.Position{}
	for path, b := range saved {
		if strings.HasPrefix(path, journalPrefix) {
			continue // a journald cursor
		}
		var p tailer.Position
		if err := p.UnmarshalBinary(b); err != nil {
			// Open checked every position, so this is new damage. Reading
			// the file from its start would count it twice.
			return fmt.Errorf("state file %s: %w: position %q: %v", a.store.Path(), store.ErrDamaged, path, err)
		}
		pos[path] = p
	}
	var t *tailer.Tailer
	if len(paths) > 0 {
		if t, err = tailer.New(tailer.Config{Inputs: paths, PollInterval: time.Second, Logger: a.log.With().Str("component", "tailer").Logger()}, pos); err != nil {
			return err
		}
		in.tail = t
	}
	ctx, cancel := context.WithCancel(context.Background())
	// A few batches of read-ahead: the files are the buffer.
	lines := make(chan tailer.Batch, 4)
	jlines := make(chan journalLine, 1024)
	sourcesDone := make(chan struct{})
	done := make(chan struct{})
	var wg sync.WaitGroup
	if t != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.Run(ctx, lines); err != nil && !errors.Is(err, context.Canceled) {
				a.log.Error().Err(err).Msg("tailer stopped")
			}
		}()
	}
	for _, input := range journals {
		units := strings.FieldsFunc(strings.TrimPrefix(input, journalPrefix), func(r rune) bool { return r == ',' || r == ' ' })
		jcfg := journal.Config{Units: units, Cursor: string(saved[input]), Logger: a.log.With().Str("component", "journal").Str("input", input).Logger()}
		entries := make(chan journal.Entry)
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer close(entries)
			journal.Run(ctx, jcfg, entries)
		}()
		go func() {
			defer wg.Done()
			for e := range entries {
				select {
				case jlines <- journalLine{input, e}:
				case <-ctx.Done():
					// Not handed over: read again after the restart.
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(sourcesDone)
	}()
	go func() {
		defer close(done)
		in.run(lines, jlines, sourcesDone)
	}()
	a.ingest, a.cancel, a.done = in, cancel, done
	return nil
}

// stopIngest stops the tailer, drains and commits. Safe to call twice.
func (a *App) stopIngest() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	<-a.done
	a.cancel = nil
}

// Reload swaps in a new configuration: inputs, rules, source IPs, relays,
// windows and domains. Reading stops, what was read is committed with its
// positions, and reading resumes from them under the new config, so no line
// is lost or counted twice. Listen and state_file need a restart.
func (a *App) Reload(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return errors.New("stopped")
	}
	if _, err := pipeline.NewClassifier(cfg); err != nil {
		a.self.ReloadSuccess.Set(0)
		return err
	}
	alerts, err := a.alerts.prepare(cfg)
	if err != nil {
		a.self.ReloadSuccess.Set(0)
		return err
	}
	if cfg.Listen != a.cfg.Listen || cfg.StateFile != a.cfg.StateFile {
		a.log.Warn().Msg("listen and state_file changes take effect at the next restart")
		cfg.Listen, cfg.StateFile = a.cfg.Listen, a.cfg.StateFile
	}
	a.stopIngest()
	a.cfg = cfg
	a.agg.Store(newAgg(cfg))
	if err := a.load(); err != nil {
		return err
	}
	if err := a.startIngest(cfg); err != nil {
		a.self.ReloadSuccess.Set(0)
		return err
	}
	a.alerts.apply(alerts)
	a.self.ReloadSuccess.Set(1)
	a.self.ReloadTimestamp.Set(float64(a.now().Unix()))
	a.log.Info().Msg("configuration reloaded")
	return nil
}

// ReloadFailed records a reload that was refused before Reload (an
// unreadable or invalid file): the running configuration stays.
func (a *App) ReloadFailed() { a.self.ReloadSuccess.Set(0) }

// Stop shuts down in order: reading and the last commit, HTTP, store.
func (a *App) Stop() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return nil
	}
	a.stopped = true
	a.stopIngest()
	a.alerts.stopAll()
	var errs []error
	if a.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := <-a.httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, a.store.Close())
	a.log.Info().Msg("stopped")
	return errors.Join(errs...)
}
