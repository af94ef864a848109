// Package web is the daemon's HTTP side: /metrics, the health and
// readiness answers, the status page, the IP pages and their JSON API,
// and the alerts page, with exporter-toolkit's TLS and basic auth. It
// reads what it shows through Source and a Prometheus gatherer, and
// imports no storage.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/rs/zerolog"
	"golang.org/x/net/netutil"
)

// Limits bound what a client can hold of the server: a scrape takes well
// under a second and a CPU profile its seconds parameter (30 by default),
// so nothing needs a connection kept open for longer, and an idle or
// stalled client costs a goroutine and a socket until it is closed.
type Limits struct {
	ReadHeaderTimeout time.Duration // default 10s: a new connection must send its request by then
	ReadTimeout       time.Duration // default 30s: the whole request
	WriteTimeout      time.Duration // default 2m: the whole answer (a 30 s profile fits)
	IdleTimeout       time.Duration // default 20s: a keep-alive connection between requests
	MaxConnections    int           // default 64: more wait to be accepted
}

func (l Limits) withDefaults() Limits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, 10*time.Second)
	def(&l.ReadTimeout, 30*time.Second)
	def(&l.WriteTimeout, 2*time.Minute)
	def(&l.IdleTimeout, 20*time.Second)
	if l.MaxConnections <= 0 {
		l.MaxConnections = 64
	}
	return l
}

// Options make a Server.
type Options struct {
	// Listen are the addresses to serve on, each host:port; the first
	// is Addr's.
	Listen        []string
	TelemetryPath string // where the metrics are; "" is /metrics
	WebConfigFile string // exporter-toolkit web config (TLS, basic auth); "" for none
	Limits        Limits
	Logger        zerolog.Logger
	Gatherer      prometheus.Gatherer
	Source        Source
	EnablePprof   bool // serve /debug/pprof/
	// Runbook is the HTML page served at /runbook (none when nil): the
	// alerts link there by default, to the runbook of this very version.
	Runbook []byte
	// Ready says why the daemon is not ready (starting, an input that
	// reads nothing); nil when it is.
	Ready func() error
}

// Server serves the daemon's HTTP endpoints.
type Server struct {
	opts        Options
	metricsPath string
	lns         []net.Listener
	srv         *http.Server
	done        chan error
}

// CheckConfigFile loads an exporter-toolkit web config file (TLS
// certificates and keys, basic auth users) as serving would; "" is none.
func CheckConfigFile(path string) error {
	if path == "" {
		return nil
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("--web.config.file %s: %w", path, err)
	}
	return nil
}

// Start checks the web config, listens and serves in the background.
func Start(o Options) (*Server, error) {
	if err := CheckConfigFile(o.WebConfigFile); err != nil {
		return nil, err
	}
	s := &Server{opts: o}
	mux := http.NewServeMux()
	metricsPath := o.TelemetryPath
	if metricsPath == "" {
		metricsPath = "/metrics"
	}
	mux.Handle(metricsPath, promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	if o.EnablePprof {
		// Profiles, as Prometheus itself serves them (behind the same
		// auth), only when asked for: they tell much of the process to
		// anyone who reaches the port.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if err := o.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "OK")
	})
	if o.Runbook != nil {
		mux.HandleFunc("/runbook", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(o.Runbook)
		})
	}
	s.metricsPath = metricsPath
	s.mountStatus(mux)
	s.mountPages(mux)

	if len(o.Listen) == 0 {
		return nil, errors.New("no address to listen on")
	}
	lim := o.Limits.withDefaults()
	for _, addr := range o.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range s.lns {
				l.Close()
			}
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		s.lns = append(s.lns, netutil.LimitListener(ln, lim.MaxConnections))
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: lim.ReadHeaderTimeout, ReadTimeout: lim.ReadTimeout,
		WriteTimeout: lim.WriteTimeout, IdleTimeout: lim.IdleTimeout}
	s.done = make(chan error, 1)
	webCfg := o.WebConfigFile
	flags := &web.FlagConfig{WebConfigFile: &webCfg}
	go func() {
		s.done <- web.ServeMultiple(s.lns, s.srv, flags, slog.New(slogHandler{log: o.Logger.With().Str("component", "web").Logger()}))
	}()
	for _, l := range s.lns {
		o.Logger.Info().Str("address", l.Addr().String()).Str("metrics_path", metricsPath).Msg("serving metrics")
	}
	return s, nil
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() string { return s.lns[0].Addr().String() }

// Addrs are the addresses the server listens on, in Listen's order.
func (s *Server) Addrs() []string {
	var a []string
	for _, l := range s.lns {
		a = append(a, l.Addr().String())
	}
	return a
}

// Close stops the server at once.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown stops the server, letting requests in flight finish until ctx
// is done.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
