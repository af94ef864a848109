package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/agg"
	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/alerting"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/hygiene"
	"github.com/ppwatch/ppwatch/pkg/ingest"
	"github.com/ppwatch/ppwatch/pkg/metrics"
	"github.com/ppwatch/ppwatch/pkg/mxlearn"
	"github.com/ppwatch/ppwatch/pkg/outcome"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/version"
	"github.com/ppwatch/ppwatch/pkg/web"
)

// ErrStateInUse means another ppwatch holds the state file. It is
// store.ErrLocked, so that errors.Is works with either name.
var ErrStateInUse = store.ErrLocked

// ErrNoStateDir means the configured state file's directory does not exist.
var ErrNoStateDir = errors.New("no such directory")

// ErrNoInputs means there is nothing to read: no inputs in the config, and
// none of the usual log files exists.
var ErrNoInputs = errors.New("no inputs: the config names none and none of " + strings.Join(config.DefaultPaths(), ", ") +
	" exists; list your logs under inputs: in the config")

// Options start an App.
type Options struct {
	Config        *config.Config
	WebConfigFile string // exporter-toolkit web config (TLS, basic auth); "" for none
	Logger        zerolog.Logger
	Now           func() time.Time // nil: time.Now
	HTTP          web.Limits       // zero values: the defaults
	EnablePprof   bool             // serve /debug/pprof/ (--web.enable-pprof)
	// ListenAddresses, when given (--web.listen-address), are served on
	// instead of the config's listen.
	ListenAddresses []string
	TelemetryPath   string // where the metrics are served; "" is /metrics
	// Load reads the configuration again for ReloadConfig (SIGHUP); nil
	// makes ReloadConfig reload Config unchanged.
	Load func() (*config.Config, error)
}

// App is the running daemon.
type App struct {
	opts   Options
	log    zerolog.Logger
	now    func() time.Time
	store  *store.Store
	agg    atomic.Pointer[agg.Agg] // swapped on reload; scrapes read it
	reg    *prometheus.Registry
	self   *metrics.Self
	web    *web.Server
	ingest *ingest.Writer
	alerts *alerting.Runner
	checks *hygiene.Runner
	health *inputHealth
	rates  lineRates // the inputs' lines/s, for the status page
	mx     *mxlearn.Learner
	msgs   *outcome.Tracker                 // the messages Proofpoint deferred, across reloads
	dns    atomic.Pointer[dnscheck.Checker] // the running setup's; nil: no resolver

	mu      sync.Mutex
	cfg     *config.Config
	setup   *ingestSetup // what is read now (nil before Start)
	ready   bool
	stopped bool

	cancel context.CancelFunc
	done   chan struct{}
}

// New opens the state file and loads the aggregate from it. It does not
// start reading or serving yet.
func New(opts Options) (*App, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg := opts.Config
	a := &App{opts: opts, log: opts.Logger, now: opts.Now, cfg: cfg, reg: prometheus.NewRegistry(), health: newInputHealth(), msgs: outcome.New()}
	path, err := stateFile(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.StateFile == "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
	}
	st, err := store.Open(path, store.Options{Timeout: time.Second, Retention: time.Duration(cfg.Retention),
		EpisodeQuiet: time.Duration(cfg.Episodes.Quiet), EpisodeRetention: time.Duration(cfg.Episodes.Retention),
		CheckPosition: ingest.CheckPosition, OnDamage: a.storeDamaged})
	if err != nil {
		return nil, err // it names the file and the way out
	}
	a.store = st
	a.self = metrics.NewSelf(a.reg)
	a.agg.Store(newAgg(cfg))
	if err := a.load(a.agg.Load(), cfg); err != nil {
		st.Close()
		return nil, err
	}
	a.reg.MustRegister(versioncollector.NewCollector(version.Program), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.reg.MustRegister(a.health, a.msgs)
	a.reg.MustRegister(metrics.NewCollector(a, a.now, func(d time.Duration) string { return config.Duration(d).String() }))
	if a.alerts, err = alerting.New(a.log, st, a.now, a.reg, cfg); err != nil {
		st.Close()
		return nil, err
	}
	if a.checks, err = a.newChecks(cfg); err != nil {
		st.Close()
		return nil, err
	}
	metrics.RegisterWebInfo(a.reg, a.alerts.ExternalURL)
	if a.mx, err = mxlearn.New(mxlearn.Options{Lookup: a.lookupMX, Store: st, Now: a.now, Logger: a.log, Registerer: a.reg}); err != nil {
		st.Close()
		return nil, err
	}
	a.self.ReloadSuccess.Set(1)
	a.self.ReloadTimestamp.Set(float64(a.now().Unix()))
	a.self.StoreHealthy.Set(1)
	a.log.Info().Str("path", path).Msg("state file opened")
	return a, nil
}

// lookupMX asks the running setup's resolvers for a domain's MX records.
func (a *App) lookupMX(ctx context.Context, domain string) dnscheck.Result {
	c := a.dns.Load()
	if c == nil {
		return dnscheck.Result{Check: dnscheck.CheckMX, Subject: domain, Status: dnscheck.Unknown, Reason: "no DNS resolver"}
	}
	return c.CheckMX(ctx, domain)
}

// stateFile is the state file's path. Only the default's directory is
// created (by New): a typo in a configured path must not grow a tree of its
// own and start counting from zero there.
func stateFile(cfg *config.Config) (string, error) {
	if cfg.StateFile == "" {
		return config.DefaultStateFile(), nil
	}
	dir := filepath.Dir(cfg.StateFile)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s: %s: %w: %s (create it, or leave state_file and --state out for %s)",
			cfg.Where("state_file"), cfg.StateFile, ErrNoStateDir, dir, config.DefaultStateFile())
	}
	return cfg.StateFile, nil
}

// storeDamaged runs once, in the goroutine that met the damage: from then
// on every commit fails and reading stops at the uncommitted bound.
func (a *App) storeDamaged(err error) {
	if a.self != nil {
		a.self.StoreHealthy.Set(0)
	}
	a.log.Error().Err(err).Msg("state file damaged")
}

func newAgg(cfg *config.Config) *agg.Agg {
	var ws []time.Duration
	for _, w := range cfg.Windows {
		ws = append(ws, time.Duration(w))
	}
	return agg.New(agg.Options{Top: cfg.Domains.Top, Always: cfg.Domains.Always, Windows: ws})
}

// load fills the aggregate from the store: totals, and the per-minute
// buckets that the longest window can see.
func (a *App) load(ag *agg.Agg, cfg *config.Config) error {
	// The bound first: on a file from before it, this folds the domains
	// past it, so that the totals below are the bounded ones.
	start := time.Now()
	mig, err := a.store.SetDomainLimits(store.DomainLimits{PerIP: cfg.Domains.StoredPerIP, Total: cfg.Domains.StoredTotal, Always: cfg.Domains.Always})
	if err != nil {
		return fmt.Errorf("recipient domains: %w", err)
	}
	if mig != (store.MigrationStats{}) {
		a.log.Warn().Int("series", mig.Series).Int("cells", mig.Cells).Int("replies", mig.Replies).Int("overflow", mig.Overflow).
			Float64("took_seconds", time.Since(start).Seconds()).Int("stored_per_ip", cfg.Domains.StoredPerIP).Int("stored_total", cfg.Domains.StoredTotal).
			Msg("state file held more recipient domains than domains.stored_per_ip/stored_total allow: those past the bound are now counted under \"other\" (once; totals unchanged)")
	}
	folded, err := a.store.Folded()
	if err != nil {
		return fmt.Errorf("loading folded counts: %w", err)
	}
	for ip, n := range folded {
		ag.AddFolded(ip, n)
	}
	if err := a.store.EachTotal(func(s store.Series, n uint64) { ag.AddTotal(s, n) }); err != nil {
		return fmt.Errorf("loading totals: %w", err)
	}
	var longest time.Duration
	for _, w := range cfg.Windows {
		longest = max(longest, time.Duration(w))
	}
	now := a.now()
	type k struct {
		ip string
		m  int64
	}
	mins := map[k]*alert.Counts{}
	err = a.store.Buckets(now.Add(-longest-time.Minute), now.Add(time.Minute), func(m int64, s store.Series, n uint64) {
		if !s.Proofpoint {
			return
		}
		x := mins[k{s.SourceIP, m}]
		if x == nil {
			x = &alert.Counts{}
			mins[k{s.SourceIP, m}] = x
		}
		x.Add(s.Outcome, n)
	})
	if err != nil {
		return fmt.Errorf("loading buckets: %w", err)
	}
	for key, x := range mins {
		ag.AddMinute(key.ip, key.m, x.Attempts, x.Blocks, x.Deferrals)
	}
	// The latest block of each IP: the stored replies keep when each was
	// last seen, so the figure survives restarts and reloads.
	err = a.store.EachReplyOfAll(func(r store.Reply) {
		if event.IsBlockReply(r.SMTPCode, event.Class(r.Class)) {
			ag.SetLastBlock(r.SourceIP, r.LastSeen)
		}
	})
	if err != nil {
		return fmt.Errorf("loading replies: %w", err)
	}
	figs, err := a.store.Figures()
	if err == nil {
		err = a.msgs.Restore(figs)
	}
	if err != nil {
		return fmt.Errorf("loading figures: %w", err)
	}
	return ingest.RestoreFigures(figs, ag, a.self)
}

// Snapshot implements metrics.Snapshotter.
func (a *App) Snapshot(now time.Time) *agg.Snapshot { return a.agg.Load().Snapshot(now) }
