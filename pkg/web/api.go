package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

// Timeline bounds: a week per hour by default, at most a week of minutes.
const (
	defaultTimelineSpan = 7 * 24 * time.Hour
	maxTimelinePoints   = 7 * 24 * 60
)

//go:embed templates/*.html
var templateFiles embed.FS

var pages = template.Must(template.New("").Funcs(pageFuncs).Funcs(statusFuncs).ParseFS(templateFiles, "templates/*.html"))

// apiIndex is GET /api/v1/: the endpoints, for people and scripts.
var apiIndex = map[string]string{
	"/api/v1/summary":           "every sending IP: state, windows, thresholds, top reply, alerts; firing alerts, inputs, failing sender checks",
	"/api/v1/ips":               "the summary's IPs only",
	"/api/v1/ips/{ip}":          "one IP: the IP report, its status, replies grouped by text, its 7-day hourly timeline",
	"/api/v1/ips/{ip}/replies":  "one IP's replies grouped by text",
	"/api/v1/ips/{ip}/timeline": "one IP's attempts, blocks and deferrals per step (?since=RFC3339 time or duration, ?step=duration)",
	"/api/v1/inputs":            "each input's files, lines, lines/s, last line and errors",
	"/api/v1/ip/{ip}":           "the IP report (the first API; kept as it is)",
	"?pretty":                   "indented JSON",
}

func (s *Server) mountStatus(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.serveStatus)
	mux.HandleFunc("GET /ip/{$}", s.serveStatus)
	mux.HandleFunc("GET /api/v1/{$}", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, r, http.StatusOK, apiIndex) })
	mux.HandleFunc("GET /api/v1/summary", func(w http.ResponseWriter, r *http.Request) {
		if sum := s.summary(w, r, true); sum != nil {
			writeJSON(w, r, http.StatusOK, sum)
		}
	})
	mux.HandleFunc("GET /api/v1/ips", func(w http.ResponseWriter, r *http.Request) {
		if sum := s.summary(w, r, true); sum != nil {
			writeJSON(w, r, http.StatusOK, sum.IPs)
		}
	})
	mux.HandleFunc("GET /api/v1/ips/{ip}", func(w http.ResponseWriter, r *http.Request) {
		if p := s.ipPage(w, r, true); p != nil {
			writeJSON(w, r, http.StatusOK, p)
		}
	})
	mux.HandleFunc("GET /api/v1/ips/{ip}/replies", func(w http.ResponseWriter, r *http.Request) {
		if p := s.ipPage(w, r, true); p != nil {
			writeJSON(w, r, http.StatusOK, p.ReplyGroups)
		}
	})
	mux.HandleFunc("GET /api/v1/ips/{ip}/timeline", s.serveTimeline)
	mux.HandleFunc("GET /api/v1/inputs", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusOK, s.opts.Source.Inputs())
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusNotFound, apiError{"no such endpoint: " + r.URL.Path + " (see /api/v1/)"})
	})
}

type apiError struct {
	Error string `json:"error"`
}

// writeJSON encodes v whole before writing, so that an error is still a
// proper answer.
func writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if r.URL.Query().Has("pretty") {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(apiError{err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// fail answers an error as JSON to the API and as a page to people; a 404
// page lists the IPs that are known.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, api bool, code int, msg string, known []IPStatus) {
	if code == http.StatusInternalServerError {
		s.opts.Logger.Error().Str("path", r.URL.Path).Msg(msg)
	}
	if api {
		writeJSON(w, r, code, apiError{msg})
		return
	}
	s.render(w, code, "error", struct {
		Code    int
		Title   string
		Message string
		IPs     []IPStatus
		Known   bool
	}{code, http.StatusText(code), msg, known, known != nil})
}

// render executes a page into a buffer first, so that a template error is
// a 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, code int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

func (s *Server) summary(w http.ResponseWriter, r *http.Request, api bool) *Summary {
	sum, err := s.opts.Source.Summary()
	if err != nil {
		s.fail(w, r, api, http.StatusInternalServerError, "reading the state file failed: "+err.Error(), nil)
		return nil
	}
	return sum
}

// chrome is what every page's header links to.
type chrome struct {
	MetricsPath string
	Runbook     bool
	Refresh     bool // the status page's meta refresh
}

func (s *Server) chrome() chrome {
	return chrome{MetricsPath: s.metricsPath, Runbook: s.opts.Runbook != nil}
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	sum := s.summary(w, r, false)
	if sum == nil {
		return
	}
	c := s.chrome()
	c.Refresh = r.URL.Query().Get("refresh") != "0"
	s.render(w, http.StatusOK, "status", struct {
		*Summary
		Chrome chrome
	}{sum, c})
}

// ipArg reads the path's IP: 400 when it is not one, 404 when ppwatch has
// never seen it (no attempt in the state file).
func (s *Server) ipArg(w http.ResponseWriter, r *http.Request, api bool) (ip string, st *IPStatus, sum *Summary) {
	ip, label, ok := pathIP(r.PathValue("ip"))
	if !ok {
		s.fail(w, r, api, http.StatusBadRequest, fmt.Sprintf("%q is not an IP address", label), nil)
		return "", nil, nil
	}
	if sum = s.summary(w, r, api); sum == nil {
		return "", nil, nil
	}
	for i := range sum.IPs {
		if sum.IPs[i].SourceIP == label {
			return ip, &sum.IPs[i], sum
		}
	}
	s.fail(w, r, api, http.StatusNotFound, "ppwatch has never seen a delivery attempt from "+label+": is it a sending IP of this host?", sum.IPs)
	return "", nil, nil
}

func (s *Server) ipPage(w http.ResponseWriter, r *http.Request, api bool) *IPPage {
	ip, st, sum := s.ipArg(w, r, api)
	if st == nil {
		return nil
	}
	rep, err := s.opts.Source.IPReport(ip, st.SourceIP)
	if err != nil {
		s.fail(w, r, api, http.StatusInternalServerError, "reading the state file failed: "+err.Error(), nil)
		return nil
	}
	tl, err := s.opts.Source.Timeline(ip, sum.GeneratedAt.Add(-defaultTimelineSpan), sum.GeneratedAt, time.Hour)
	if err != nil {
		s.fail(w, r, api, http.StatusInternalServerError, "reading the state file failed: "+err.Error(), nil)
		return nil
	}
	return &IPPage{IPReport: rep, Status: *st, ReplyGroups: GroupReplies(rep.Replies), Timeline: tl}
}

func (s *Server) serveIPPage(w http.ResponseWriter, r *http.Request) {
	if p := s.ipPage(w, r, false); p != nil {
		s.render(w, http.StatusOK, "ip", struct {
			*IPPage
			Chrome chrome
		}{p, s.chrome()})
	}
}

// serveTimeline takes since as an RFC 3339 time or a duration back from
// now (default a week) and step as a duration of whole minutes (default 1h).
func (s *Server) serveTimeline(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	step := time.Hour
	if v := q.Get("step"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d%time.Minute != 0 {
			writeJSON(w, r, http.StatusBadRequest, apiError{fmt.Sprintf("step %q: give whole minutes, at least 1m (e.g. 1h, 5m)", v)})
			return
		}
		step = d
	}
	ip, st, sum := s.ipArg(w, r, true)
	if st == nil {
		return
	}
	now := sum.GeneratedAt
	since := now.Add(-defaultTimelineSpan)
	if v := q.Get("since"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil && t.Before(now) {
			since = t
		} else {
			writeJSON(w, r, http.StatusBadRequest, apiError{fmt.Sprintf("since %q: give an RFC 3339 time before now or a duration back from now (e.g. 24h)", v)})
			return
		}
	}
	if n := now.Sub(since) / step; n > maxTimelinePoints {
		writeJSON(w, r, http.StatusBadRequest, apiError{fmt.Sprintf("%d points asked for, at most %d: a longer step or a later since", n, maxTimelinePoints)})
		return
	}
	tl, err := s.opts.Source.Timeline(ip, since, now, step)
	if err != nil {
		s.fail(w, r, true, http.StatusInternalServerError, "reading the state file failed: "+err.Error(), nil)
		return
	}
	writeJSON(w, r, http.StatusOK, tl)
}
