package cli

import (
	"encoding/json"
	"flag"
	"time"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
	"github.com/ppwatch/ppwatch/pkg/report"
)

func runScan(args []string, env Env) error {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	c := common{noSenders: true}
	c.register(fs)
	asJSON := fs.Bool("json", false, "write the report as JSON (schema in README)")
	sinceFlag := fs.String("since", "", "only count attempts newer than this `duration` before now (e.g. 90m, 24h, 7d)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := c.setup(); err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("scan: give one or more log files (\"-\" for standard input)")
	}
	b := report.NewBuilder()
	var since time.Time
	if *sinceFlag != "" {
		d, err := config.ParseDuration(*sinceFlag)
		if err != nil {
			return usagef("--since: %v", err)
		}
		since = time.Now().Add(-d).UTC().Truncate(time.Second)
		b.SetSince(since)
	}
	for _, name := range files {
		before := 0
		f, err := c.readInput(name, env, func(ev *event.Delivery, res pipeline.Result, _ error) {
			if res != pipeline.Parsed {
				return
			}
			if !since.IsZero() && ev.Time.Before(since) {
				before++
				return
			}
			b.Add(ev)
		})
		f.BeforeSince = before
		b.AddFile(f)
		if err != nil {
			return err
		}
	}
	r := b.Report()
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteText(env.Stdout)
}
