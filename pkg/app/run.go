package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ppwatch/ppwatch/docs"
	"github.com/ppwatch/ppwatch/pkg/agg"
	"github.com/ppwatch/ppwatch/pkg/alerting"
	"github.com/ppwatch/ppwatch/pkg/classify"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/hygiene"
	"github.com/ppwatch/ppwatch/pkg/ingest"
	"github.com/ppwatch/ppwatch/pkg/journal"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/tailer"
	"github.com/ppwatch/ppwatch/pkg/web"
)

// NeedsAdmin tells whether err is one a restart cannot mend: another
// ppwatch on the state file, nothing to read, a state directory that does
// not exist, a damaged or foreign state file. The unit does not restart on them (exit 2).
func NeedsAdmin(err error) bool {
	for _, e := range []error{ErrConfig, ErrStateInUse, ErrNoInputs, ErrNoStateDir, store.ErrDamaged, store.ErrNotStore, store.ErrSchema} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Run is the daemon: it starts, reloads the configuration on each receive
// from reload, and stops when ctx is done. The error is the reason it could
// not start or stop cleanly; NeedsAdmin tells the admin's to fix from the
// rest.
func Run(ctx context.Context, opts Options, reload <-chan struct{}) error {
	if err := Check(opts.Config, opts.WebConfigFile); err != nil {
		return err
	}
	a, err := New(opts)
	if err != nil {
		return err
	}
	if err := a.Start(); err != nil {
		a.Stop()
		return err
	}
	for {
		select {
		case <-ctx.Done():
			a.log.Info().Msg("shutting down")
			return a.Stop()
		case <-reload:
			if err := a.ReloadConfig(); err != nil {
				a.log.Error().Err(err).Msg("config reload failed; the running configuration stays")
			}
		}
	}
}

// Start listens on the configured address and starts reading the inputs.
func (a *App) Start() error {
	if err := a.serve(); err != nil {
		return err
	}
	s, err := a.prepare(a.cfg, nil)
	if err == nil {
		a.dns.Store(s.dns)
		err = a.startIngest(s, a.agg.Load())
	}
	if err != nil {
		a.web.Close()
		return err
	}
	a.setup = s
	a.mx.Start()
	a.alerts.Start(a.Addr())
	a.checks.Start()
	a.mu.Lock()
	a.ready = true
	a.mu.Unlock()
	return nil
}

// Addr is the address the HTTP server listens on (useful with port 0).
func (a *App) Addr() string { return a.web.Addr() }

func (a *App) serve() error {
	listen := a.opts.ListenAddresses
	if len(listen) == 0 {
		listen = []string{a.cfg.Listen}
	}
	srv, err := web.Start(web.Options{Listen: listen, TelemetryPath: a.opts.TelemetryPath, WebConfigFile: a.opts.WebConfigFile, Limits: a.opts.HTTP,
		Logger: a.log, Gatherer: a.reg, Source: a, Ready: a.notReady, EnablePprof: a.opts.EnablePprof, Runbook: docs.RunbookHTML()})
	if err != nil {
		return err
	}
	a.web = srv
	return nil
}

// notReady says why the daemon is not ready: starting, or an input that
// reads nothing; nil when it is.
func (a *App) notReady() error {
	a.mu.Lock()
	ready := a.ready
	a.mu.Unlock()
	if !ready {
		return errors.New("starting")
	}
	if err := a.store.Damaged(); err != nil {
		return err // it names the file and the way out
	}
	return a.health.notReading()
}

// ingestSetup is what one configuration reads with. It is made whole, and
// checked, before any of it runs: a reload that cannot start leaves the
// running setup untouched.
type ingestSetup struct {
	cfg      *config.Config
	inputs   []config.Input // as configured, or the usual logs that exist
	paths    []string       // file inputs, for the tailer
	journals []string       // journald inputs
	cls      *classify.Classifier
	alerts   *alerting.Setup
	dns      *dnscheck.Checker // nil: no resolver to ask
	checks   *hygiene.Setup
}

func (s *ingestSetup) has(path string) bool {
	for _, in := range s.inputs {
		if in.Path == path {
			return true
		}
	}
	return false
}

// prepare builds and checks everything cfg needs to read. running is the
// setup a reload replaces (nil at start): an input the reload adds must be
// readable now, so that a typo in a path is refused while the running
// configuration goes on reading. At start, and for inputs that stay, a
// missing file is no error (a log may appear later); the input's health
// says what it lacks.
func (a *App) prepare(cfg *config.Config, running *ingestSetup) (*ingestSetup, error) {
	cls, err := cfg.NewClassifier()
	if err != nil {
		return nil, err
	}
	alerts, err := a.alerts.Prepare(cfg)
	if err != nil {
		return nil, err
	}
	s := &ingestSetup{cfg: cfg, cls: cls, alerts: alerts, checks: a.checks.Prepare(cfg), inputs: cfg.Inputs}
	dnsOpts := cfg.DNSCheckOptions(cls)
	dnsOpts.ResolvConf = resolvConf
	if s.dns, err = dnscheck.New(dnsOpts); err != nil {
		// A host without resolvers still counts.
		a.log.Warn().Err(err).Msg("no DNS resolver: recipient domains are not learned from their MX records (set dns.servers)")
		s.dns = nil
	}
	if cfg.Proofpoint.LearnFromMX && s.dns != nil {
		cls.SetLearned(a.mx.Proofpoint)
	}
	if len(s.inputs) == 0 {
		s.inputs = config.DefaultInputs()
	}
	if len(s.inputs) == 0 {
		return nil, ErrNoInputs
	}
	for _, in := range s.inputs {
		if strings.HasPrefix(in.Path, config.JournalPrefix) {
			s.journals = append(s.journals, in.Path)
		} else {
			s.paths = append(s.paths, in.Path)
		}
	}
	if len(s.paths) > 0 {
		if _, err := tailer.New(tailer.Config{Inputs: s.paths}, nil); err != nil {
			return nil, err
		}
	}
	if running != nil {
		for _, in := range s.inputs {
			if running.has(in.Path) {
				continue
			}
			if err := checkInput(in.Path); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func checkInput(path string) error {
	if strings.HasPrefix(path, config.JournalPrefix) {
		return journal.Check(journal.Config{})
	}
	return tailer.Check(path)
}

// startIngest starts reading with s into ag: a tailer and the journal
// followers from the saved positions, and the writer.
func (a *App) startIngest(s *ingestSetup, ag *agg.Agg) error {
	saved, err := a.store.Positions()
	if err != nil {
		return fmt.Errorf("loading positions: %w", err)
	}
	pos := map[string]tailer.Position{}
	for path, b := range saved {
		if strings.HasPrefix(path, config.JournalPrefix) {
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
	if len(s.paths) > 0 {
		if t, err = tailer.New(tailer.Config{Inputs: s.paths, PollInterval: time.Second, Now: a.now, Logger: a.log}, pos); err != nil {
			return err
		}
	}
	in := ingest.New(ingest.Options{Logger: a.log.With().Str("component", "ingest").Logger(), Store: a.store, Agg: ag, Self: a.self, Outcomes: a.msgs,
		Now: a.now, Config: s.cfg, Classifier: s.cls, Inputs: s.inputs, Tail: t})
	a.health.use(t, s.journals)
	ctx, cancel := context.WithCancel(context.Background())
	// A few batches of read-ahead: the files are the buffer.
	lines := make(chan tailer.Batch, 4)
	jlines := make(chan ingest.JournalLine, 1024)
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
	for _, input := range s.journals {
		units := strings.FieldsFunc(strings.TrimPrefix(input, config.JournalPrefix), func(r rune) bool { return r == ',' || r == ' ' })
		jcfg := journal.Config{Units: units, Cursor: string(saved[input]), Logger: a.log.With().Str("component", "journal").Str("input", input).Logger(),
			State: func(err error) { a.health.journalState(input, err) }}
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
				case jlines <- ingest.JournalLine{Input: input, Entry: e}:
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
		in.Run(lines, jlines, sourcesDone)
	}()
	a.ingest, a.cancel, a.done = in, cancel, done
	if t != nil {
		// Started means reading: the first look at the files is done, so
		// that readiness and the input metrics tell about this setup.
		select {
		case <-t.Looked():
		case <-time.After(5 * time.Second):
		}
	}
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
// windows and domains. Everything the new configuration needs is built and
// checked first; only then does reading stop, what was read is committed
// with its positions, and reading resumes from them under the new
// configuration, so no line is lost or counted twice. A configuration that
// cannot be prepared is refused with the running one untouched; one that
// fails to start after the swap (which checks make unlikely) gives way to
// the running one again. Listen and state_file need a restart.
func (a *App) Reload(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return errors.New("stopped")
	}
	if cfg.Listen != a.cfg.Listen || cfg.StateFile != a.cfg.StateFile {
		a.log.Warn().Str("listen", a.cfg.Listen).Str("state_file", a.cfg.StateFile).
			Msg("listen and state_file changes take effect at the next restart; the running ones stay")
		cfg.Listen, cfg.StateFile = a.cfg.Listen, a.cfg.StateFile
	}
	next, err := a.prepare(cfg, a.setup)
	if err != nil {
		a.ReloadFailed()
		return err
	}
	old := a.setup
	a.stopIngest()
	if err := a.swap(next); err != nil {
		a.ReloadFailed()
		if err2 := a.swap(old); err2 != nil {
			a.setReading(fmt.Errorf("reading stopped: the new configuration failed (%v) and the running one could not start again: %w", err, err2))
			return errors.Join(err, err2)
		}
		return fmt.Errorf("%w (the running configuration was started again)", err)
	}
	a.alerts.Apply(next.alerts)
	a.checks.Apply(next.checks)
	a.self.ReloadSuccess.Set(1)
	a.self.ReloadTimestamp.Set(float64(a.now().Unix()))
	a.log.Info().Msg("configuration reloaded")
	return nil
}

// ReloadConfig reads the configuration again and reloads it, as SIGHUP
// does; a file that cannot be read or is invalid is refused like a
// configuration that cannot start, with the running one untouched.
func (a *App) ReloadConfig() error {
	cfg := a.opts.Config
	if a.opts.Load != nil {
		var err error
		if cfg, err = a.opts.Load(); err != nil {
			a.ReloadFailed()
			return err
		}
	}
	return a.Reload(cfg)
}

// swap starts reading with s, from the store's positions, into a fresh
// aggregate loaded from the store; the scrapes see it once reading runs.
func (a *App) swap(s *ingestSetup) error {
	ag := newAgg(s.cfg)
	if err := a.load(ag, s.cfg); err != nil {
		return err
	}
	a.dns.Store(s.dns)
	if err := a.startIngest(s, ag); err != nil {
		return err
	}
	a.agg.Store(ag)
	a.setup, a.cfg = s, s.cfg
	a.setReading(nil)
	return nil
}

// setReading records whether the inputs are being read at all; nil is yes.
func (a *App) setReading(err error) {
	a.health.mu.Lock()
	a.health.stopped = err
	a.health.mu.Unlock()
	if err != nil {
		a.log.Error().Err(err).Msg("not reading")
	}
}

// ReloadFailed records a reload that was refused (an unreadable or invalid
// file, or a configuration that could not start): the running
// configuration stays.
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
	a.alerts.Stop()
	a.checks.Stop()
	var errs []error
	errs = append(errs, a.mx.Stop())
	if a.web != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.web.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, a.store.Close())
	a.log.Info().Msg("stopped")
	return errors.Join(errs...)
}
