package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/evidence"
)

// Evidence is what the report routes ask of the daemon: the evidence
// packet of an IP ("" the unknown one) from its state file.
type Evidence interface {
	Evidence(ip, domain string, since, until, updateSince time.Time) (*evidence.Packet, error)
}

// mountReport serves the evidence packet: JSON at
// /api/v1/ips/{ip}/report (ppwatch report --url reads it, and merges the
// packets of several daemons), the packet's text as a page at
// /ip/{ip}/report. ?domain=, ?since=, ?until=, ?update_since= as
// ppwatch report's flags.
func (s *Server) mountReport(mux *http.ServeMux) {
	ev, ok := s.opts.Source.(Evidence)
	if !ok {
		return
	}
	h := func(w http.ResponseWriter, r *http.Request) {
		ip, label, ok := pathIP(r.PathValue("ip"))
		if !ok {
			jsonError(w, http.StatusBadRequest, "not an IP address: "+label)
			return
		}
		q := r.URL.Query()
		now := s.opts.Source.Now()
		var when [3]time.Time
		for i, k := range []string{"since", "until", "update_since"} {
			if v := q.Get(k); v != "" {
				t, err := evidence.ParseWhen(v, now)
				if err != nil {
					jsonError(w, http.StatusBadRequest, k+": "+err.Error())
					return
				}
				when[i] = t
			}
		}
		p, err := ev.Evidence(ip, strings.ToLower(q.Get("domain")), when[0], when[1], when[2])
		if err != nil {
			s.opts.Logger.Error().Err(err).Str("source_ip", label).Msg("report failed")
			jsonError(w, http.StatusInternalServerError, "reading the state file failed")
			return
		}
		var buf bytes.Buffer
		if strings.HasPrefix(r.URL.Path, "/api/") {
			err = evidence.WriteJSON(&buf, p)
			w.Header().Set("Content-Type", "application/json")
		} else {
			var text bytes.Buffer
			if err = evidence.WriteText(&text, p); err == nil {
				err = reportPage.Execute(&buf, struct{ IP, Text string }{label, text.String()})
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(buf.Bytes())
	}
	mux.HandleFunc("GET /api/v1/ips/{ip}/report", h)
	mux.HandleFunc("GET /ip/{ip}/report", h)
}

// pathIP reads an IP from a path: "unknown" is the attempts without one
// (""); an address is written the one way the store keeps it.
func pathIP(v string) (ip, label string, ok bool) {
	if v == alert.Unknown {
		return "", v, true
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return "", v, false
	}
	return a.Unmap().String(), a.Unmap().String(), true
}

// jsonError answers {"error": msg}.
func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// reportPage shows the packet as ppwatch report writes it, to select and
// copy whole: the text is escaped like everything from the network.
var reportPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ppwatch: evidence for {{.IP}}</title>
<style>body{font-family:sans-serif;margin:1em 2em}pre{white-space:pre-wrap;background:#f6f6f6;padding:1em;border:1px solid #ccc}</style></head>
<body><p><a href="/ip/{{.IP}}">{{.IP}}</a> · <a href="/api/v1/ips/{{.IP}}/report">JSON</a></p>
<pre>{{.Text}}</pre></body></html>
`))
