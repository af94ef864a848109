package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the report as readable tables.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	p := func(format string, args ...any) { fmt.Fprintf(ew, format, args...) }

	p("ppwatch scan: %d file(s), %d lines read: %d attempts, %d ignored, %d malformed",
		len(r.Files), r.Lines.Read, r.Lines.Parsed, r.Lines.Ignored, r.Lines.Malformed)
	if r.Lines.BeforeSince > 0 {
		p(", %d attempts before --since", r.Lines.BeforeSince)
	}
	p("\n")
	if r.FirstEvent != nil {
		p("events from %s to %s (UTC)\n", ts(*r.FirstEvent), ts(*r.LastEvent))
	}
	if r.Since != nil {
		p("since %s (UTC)\n", ts(*r.Since))
	}
	for _, f := range r.Files {
		p("  %s (%s): %d read, %d attempts, %d ignored, %d malformed\n", f.Path, f.MTA, f.Read, f.Parsed, f.Ignored, f.Malformed)
		if f.Error != "" {
			p("    NOT READ TO THE END: %s\n", f.Error)
		}
	}

	t := r.Totals
	p("\nTOTALS\n")
	p("  attempts %d: delivered %d, deferred %d, bounced %d\n", t.Attempts, t.Delivered, t.Deferred, t.Bounced)
	p("  proofpoint attempts %d: blocks %d (%s), deferrals %d (%s)\n",
		t.ProofpointAttempts, t.Blocks, pct(t.BlockRatio, t.ProofpointAttempts), t.Deferrals, pct(t.DeferralRatio, t.ProofpointAttempts))

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	tp := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }

	p("\nBY SOURCE IP\n")
	tp("SOURCE IP\tATTEMPTS\tDELIVERED\tDEFERRED\tBOUNCED\tPROOFPOINT\tBLOCKS\tBLOCK RATIO\tDEFERRALS\tDEFERRAL RATIO\tCLASSES\n")
	for _, ip := range r.SourceIPs {
		c := ip.Counts
		tp("%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n", orUnknown(ip.SourceIP), c.Attempts, c.Delivered, c.Deferred, c.Bounced,
			c.ProofpointAttempts, c.Blocks, pct(c.BlockRatio, c.ProofpointAttempts), c.Deferrals, pct(c.DeferralRatio, c.ProofpointAttempts), classes(c.Classes))
	}
	tw.Flush()
	for _, ip := range r.SourceIPs {
		if ip.SourceIP == "" {
			p("note: %d attempts have no known source IP (Postfix never logs it, Exim only with +outgoing_interface +incoming_interface);\n"+
				"      name it with source_ips in the config file, or ratios per IP count only the replies that name the IP.\n", ip.Attempts)
		}
	}

	p("\nBY PROOFPOINT RECIPIENT DOMAIN\n")
	if len(r.ProofpointDomains) == 0 {
		p("  (no Proofpoint attempts)\n")
	} else {
		tp("RECIPIENT DOMAIN\tATTEMPTS\tDELIVERED\tBLOCKS\tBLOCK RATIO\tDEFERRALS\tDEFERRAL RATIO\tCLASSES\n")
		for _, d := range r.ProofpointDomains {
			c := d.Counts
			tp("%s\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n", d.RecipientDomain, c.Attempts, c.Delivered, c.Blocks, pct(c.BlockRatio, c.ProofpointAttempts),
				c.Deferrals, pct(c.DeferralRatio, c.ProofpointAttempts), classes(c.Classes))
		}
		tw.Flush()
	}

	p("\nPROOFPOINT REPLIES (verbatim)\n")
	if len(r.ProofpointReplies) == 0 {
		p("  (none)\n")
	}
	for _, rp := range r.ProofpointReplies {
		var ds []string
		for _, d := range rp.RecipientDomains {
			ds = append(ds, fmt.Sprintf("%s (%d)", d.Domain, d.Count))
		}
		p("  %d× from %s, class %s (rule %s), first %s, last %s, to %s\n    %s\n",
			rp.Count, orUnknown(rp.SourceIP), rp.Class, rp.Rule, ts(rp.FirstSeen), ts(rp.LastSeen), strings.Join(ds, ", "), rp.Response)
	}
	if r.RepliesDropped > 0 {
		p("  (%d more attempts with further distinct replies not listed)\n", r.RepliesDropped)
	}
	return ew.err
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func pct(ratio float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", ratio*100)
}

func orUnknown(ip string) string {
	if ip == "" {
		return "(unknown)"
	}
	return ip
}

// classes lists the non-"none" classes, most frequent first.
func classes(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var s []kv
	for k, v := range m {
		if k != "none" {
			s = append(s, kv{k, v})
		}
	}
	sort.Slice(s, func(i, j int) bool {
		if s[i].v != s[j].v {
			return s[i].v > s[j].v
		}
		return s[i].k < s[j].k
	})
	var out []string
	for _, e := range s {
		out = append(out, fmt.Sprintf("%s=%d", e.k, e.v))
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
