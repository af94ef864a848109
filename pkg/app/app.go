// Package app wires the daemon: config → store → in-memory aggregate →
// tailer → pipelines → one writer committing counts and positions together
// → metrics over HTTP. It is the only package that imports all others.
//
// Shutdown order (Stop): stop the tailer and drain what it handed over,
// commit the last batch with its positions in one transaction, shut the
// HTTP server down with a deadline, close the store.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/agg"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/metrics"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/version"
)

// ErrStateInUse means another ppwatch holds the state file.
var ErrStateInUse = errors.New("state file is in use by another ppwatch")

// ErrNoInputs means there is nothing to read: no inputs in the config, and
// none of the usual log files exists.
var ErrNoInputs = errors.New("no inputs: the config names none and none of " + strings.Join(config.DefaultPaths(), ", ") +
	" exists; list your logs under inputs:")

// Options start an App.
type Options struct {
	Config        *config.Config
	WebConfigFile string // exporter-toolkit web config (TLS, basic auth); "" for none
	Logger        zerolog.Logger
	Now           func() time.Time // nil: time.Now
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
	ln     net.Listener
	srv    *http.Server
	ingest *ingester
	alerts *alerter

	mu      sync.Mutex
	cfg     *config.Config
	ready   bool
	stopped bool

	cancel   context.CancelFunc
	done     chan struct{}
	httpDone chan error
}

// New opens the state file and loads the aggregate from it. It does not
// start reading or serving yet.
func New(opts Options) (*App, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg := opts.Config
	a := &App{opts: opts, log: opts.Logger, now: opts.Now, cfg: cfg, reg: prometheus.NewRegistry()}
	path := cfg.StateFile
	if path == "" {
		path = config.DefaultStateFile()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	st, err := store.Open(path, store.Options{Timeout: time.Second, Retention: time.Duration(cfg.Retention)})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%s: %w", path, ErrStateInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	a.store = st
	a.agg.Store(newAgg(cfg))
	if err := a.load(); err != nil {
		st.Close()
		return nil, err
	}
	a.self = metrics.NewSelf(a.reg)
	v, r, g := version.Info()
	metrics.RegisterBuildInfo(a.reg, v, r, g)
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.reg.MustRegister(metrics.NewCollector(a, a.now, func(d time.Duration) string { return config.Duration(d).String() }))
	if a.alerts, err = newAlerter(a.log.With().Str("component", "alert").Logger(), st, a.now, a.reg, cfg); err != nil {
		st.Close()
		return nil, err
	}
	a.self.ReloadSuccess.Set(1)
	a.self.ReloadTimestamp.Set(float64(a.now().Unix()))
	a.self.StoreHealthy.Set(1)
	a.log.Info().Str("path", path).Msg("state file opened")
	return a, nil
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
func (a *App) load() error {
	ag := a.agg.Load()
	// The bound first: on a file from before it, this folds the domains
	// past it, so that the totals below are the bounded ones.
	start := time.Now()
	mig, err := a.store.SetDomainLimits(store.DomainLimits{PerIP: a.cfg.Domains.StoredPerIP, Total: a.cfg.Domains.StoredTotal, Always: a.cfg.Domains.Always})
	if err != nil {
		return fmt.Errorf("recipient domains: %w", err)
	}
	if mig != (store.MigrationStats{}) {
		a.log.Warn().Int("series", mig.Series).Int("cells", mig.Cells).Int("replies", mig.Replies).Int("overflow", mig.Overflow).
			Dur("took", time.Since(start)).Int("stored_per_ip", a.cfg.Domains.StoredPerIP).Int("stored_total", a.cfg.Domains.StoredTotal).
			Msg("state file held more recipient domains than domains.stored_per_ip/stored_total allow: those past the bound are now counted under \"other\" (once; totals unchanged)")
	}
	folded, err := a.store.Folded()
	if err != nil {
		return fmt.Errorf("loading folded counts: %w", err)
	}
	for ip, n := range folded {
		ag.AddFolded(ip, n)
	}
	if err := a.store.EachTotal(func(s store.Series, n uint64) { ag.AddTotal(agg.Series(s), n) }); err != nil {
		return fmt.Errorf("loading totals: %w", err)
	}
	var longest time.Duration
	for _, w := range a.cfg.Windows {
		longest = max(longest, time.Duration(w))
	}
	now := a.now()
	type k struct {
		ip string
		m  int64
	}
	type v struct{ n, b, d uint64 }
	mins := map[k]*v{}
	err = a.store.Buckets(now.Add(-longest-time.Minute), now.Add(time.Minute), func(m int64, s store.Series, n uint64) {
		if !s.Proofpoint {
			return
		}
		x := mins[k{s.SourceIP, m}]
		if x == nil {
			x = &v{}
			mins[k{s.SourceIP, m}] = x
		}
		x.n += n
		switch s.Outcome {
		case agg.Block:
			x.b += n
		case agg.Deferral:
			x.d += n
		}
	})
	if err != nil {
		return fmt.Errorf("loading buckets: %w", err)
	}
	for key, x := range mins {
		ag.AddMinute(key.ip, key.m, x.n, x.b, x.d)
	}
	return nil
}

// Snapshot implements metrics.Snapshotter.
func (a *App) Snapshot(now time.Time) *agg.Snapshot { return a.agg.Load().Snapshot(now) }
