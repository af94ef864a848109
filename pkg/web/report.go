package web

import (
	"bytes"
	"fmt"
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
		api := strings.HasPrefix(r.URL.Path, "/api/")
		// Not ipArg: an IP this daemon never saw is an empty packet, not
		// a 404, so that a fleet's daemons can all be asked about it.
		ip, label, ok := pathIP(r.PathValue("ip"))
		if !ok {
			s.fail(w, r, api, http.StatusBadRequest, fmt.Sprintf("%q is not an IP address", label), nil)
			return
		}
		q := r.URL.Query()
		now := s.opts.Source.Now()
		var when [3]time.Time
		for i, k := range []string{"since", "until", "update_since"} {
			if v := q.Get(k); v != "" {
				t, err := evidence.ParseWhen(v, now)
				if err != nil {
					s.fail(w, r, api, http.StatusBadRequest, k+": "+err.Error(), nil)
					return
				}
				when[i] = t
			}
		}
		p, err := ev.Evidence(ip, strings.ToLower(q.Get("domain")), when[0], when[1], when[2])
		if err != nil {
			s.fail(w, r, api, http.StatusInternalServerError, "reading the state file failed: "+err.Error(), nil)
			return
		}
		if api {
			writeJSON(w, r, http.StatusOK, p)
			return
		}
		var text bytes.Buffer
		if err := evidence.WriteText(&text, p); err != nil {
			s.fail(w, r, api, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		s.render(w, http.StatusOK, "report", struct {
			SourceIP, Text string
			Chrome         chrome
		}{label, text.String(), s.chrome()})
	}
	mux.HandleFunc("GET /api/v1/ips/{ip}/report", h)
	mux.HandleFunc("GET /ip/{ip}/report", h)
}

// pathIP reads the IP of a path: "unknown" is the attempts without one
// (ip ""); an address is written the one way the store keeps it. label is
// how pages and answers name it.
func pathIP(v string) (ip, label string, ok bool) {
	if v == alert.Unknown {
		return "", v, true
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return "", v, false
	}
	return a.String(), a.String(), true
}
