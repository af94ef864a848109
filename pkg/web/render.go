package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode/utf8"
)

var statusFuncs = template.FuncMap{
	"short":   shorten,
	"clock":   clock,
	"banner":  bannerOf,
	"chart":   chartOf,
	"parts":   replyParts,
	"what":    classWhat,
	"section": classSection,
	"upper":   strings.ToUpper,
	"deref":   func(v *float64) float64 { return *v },
	"last":    func(ws []StatusWindow) StatusWindow { return ws[len(ws)-1] },
	"rate": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return fmt.Sprintf("%.1f", *v)
	},
	"count": func(ips []IPStatus, state string) int {
		n := 0
		for _, ip := range ips {
			if ip.State == state {
				n++
			}
		}
		return n
	},
}

// shortReply is how long a reply is in the status table; the whole of it
// is in the cell's title and on the IP page.
const shortReply = 72

func shorten(s string) string {
	if utf8.RuneCountInString(s) <= shortReply {
		return s
	}
	r := []rune(s)
	return string(r[:shortReply-1]) + "…"
}

// clock is a time as a person reads it at night: the hour alone when it is
// the day of now, with the date otherwise.
func clock(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.Format(time.DateOnly) == now.Format(time.DateOnly) {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

// banner is the first thing on an IP page.
type banner struct {
	State, Headline, Why string
}

func bannerOf(p *IPPage) banner {
	st := p.Status
	b := banner{State: st.State, Why: st.Reason}
	verb := map[string]string{StateBlocked: "Blocked", StateDeferred: "Deferred"}[st.State]
	if verb == "" {
		w := st.Windows[len(st.Windows)-1]
		if w.Blocks+w.Deferrals == 0 {
			b.Headline = "No Proofpoint failures in " + w.Window
		} else {
			// Not all-clear: failures the rules do not page on (too
			// few attempts, or below the ratio) still need a look.
			b.State = "failing"
			b.Headline = fmt.Sprintf("Proofpoint failures below the alert thresholds: %d blocks and %d deferrals of %d Proofpoint attempts in %s", w.Blocks, w.Deferrals, w.Attempts, w.Window)
		}
		return b
	}
	b.Headline = verb + " by Proofpoint"
	if st.Since != nil {
		b.Headline += " since " + clock(*st.Since, p.GeneratedAt)
	}
	if st.TopReply != nil {
		b.Headline += " (" + st.TopReply.Class + ": " + classWhat(st.TopReply.Class) + ")"
	}
	return b
}

// part is a piece of a reply: text, or Proofpoint's lookup URL as a link.
type part struct {
	Text string
	Link bool
}

func replyParts(g ReplyGroup) []part {
	i := strings.Index(g.Response, g.LookupURL)
	if g.LookupURL == "" || i < 0 {
		return []part{{Text: g.Response}}
	}
	return []part{{Text: g.Response[:i]}, {Text: g.LookupURL, Link: true}, {Text: g.Response[i+len(g.LookupURL):]}}
}

// The timeline chart's geometry, in pixels.
const (
	chartBar    = 5   // per point
	chartHeight = 140 // of the tallest bar
	chartLeft   = 40  // room for the scale
	chartTop    = 10
)

type chart struct {
	Width, Height, Bottom int
	Max                   uint64
	Bars                  []bar
	Days                  []tick
}

// bar is one point stacked from the bottom: blocks, deferrals, the rest.
type bar struct {
	X, Width             int
	BlockY, BlockH       int
	DeferralY, DeferralH int
	RestY, RestH         int
	Title                string
}

type tick struct {
	X     int
	Label string
}

func chartOf(tl *Timeline) chart {
	c := chart{Width: chartLeft + len(tl.Points)*chartBar + 10, Bottom: chartTop + chartHeight, Max: 1}
	c.Height = c.Bottom + 20
	for _, p := range tl.Points {
		c.Max = max(c.Max, p.Attempts)
	}
	h := func(n uint64) int { return int((n*chartHeight + c.Max/2) / c.Max) }
	for i, p := range tl.Points {
		x := chartLeft + i*chartBar
		bh, dh := h(p.Blocks), h(p.Deferrals)
		rh := h(p.Attempts) - bh - dh
		if p.Attempts > 0 && bh+dh+rh == 0 {
			rh = 1 // an hour with attempts is never blank
		}
		b := bar{X: x, Width: chartBar, BlockH: bh, DeferralH: dh, RestH: max(rh, 0)}
		b.BlockY = c.Bottom - bh
		b.DeferralY = b.BlockY - dh
		b.RestY = b.DeferralY - b.RestH
		b.Title = fmt.Sprintf("%s: %d attempts, %d blocks, %d deferrals", p.Start.UTC().Format("2006-01-02 15:04 UTC"), p.Attempts, p.Blocks, p.Deferrals)
		c.Bars = append(c.Bars, b)
		if s := p.Start.UTC(); s.Hour() == 0 && s.Minute() == 0 {
			c.Days = append(c.Days, tick{X: x, Label: s.Format("Mon 02 Jan")})
		}
	}
	return c
}
