package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
	"github.com/ppwatch/ppwatch/pkg/report"
)

func runScan(args []string, env Env) error {
	fs := newFlagSet("scan", env)
	c := common{noSenders: true}
	c.register(fs)
	asJSON := fs.Bool("json", false, "write the report as JSON (schema in README)")
	sinceFlag := fs.String("since", "", "only count attempts newer than this `duration` before now (e.g. 90m, 24h, 7d)")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "files read at once (one per core by default); the report is the same for any value")
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
	if *jobs < 1 {
		return usagef("--jobs: %d is not a positive number", *jobs)
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

	// One file per worker; each file gets its own builder and its own
	// stderr buffer, merged and written in the files' order, so the output
	// does not depend on --jobs.
	parts := make([]scanPart, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(*jobs, len(files)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				parts[i] = c.scanFile(files[i], env, since)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()

	var failed []string
	for i := range parts {
		env.Stderr.Write(parts[i].stderr.Bytes())
		if err := parts[i].err; err != nil {
			fmt.Fprintf(env.Stderr, "ppwatch: %v\n", err)
			failed = append(failed, parts[i].name)
		}
		b.Merge(parts[i].b)
	}
	r := b.Report()
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = r.WriteText(env.Stdout)
	}
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d files not read to the end: %s", len(failed), len(files), joinNames(failed))
	}
	return nil
}

// scanPart is what one file gave.
type scanPart struct {
	name   string
	b      *report.Builder
	stderr bytes.Buffer
	err    error
}

func (c *common) scanFile(name string, env Env, since time.Time) scanPart {
	p := scanPart{name: name, b: report.NewPartBuilder()}
	fileEnv := env
	fileEnv.Stderr = &p.stderr
	before := 0
	f, err := c.readInput(name, fileEnv, func(ev *event.Delivery, res pipeline.Result, _ error) {
		if res != pipeline.Parsed {
			return
		}
		if !since.IsZero() && ev.Time.Before(since) {
			before++
			return
		}
		p.b.Add(ev)
	})
	f.BeforeSince = before
	if err != nil {
		f.Error = err.Error()
		p.err = err
	}
	if f.MTA == "" {
		f.MTA = "unknown" // not opened
	}
	p.b.AddFile(f)
	return p
}

func joinNames(names []string) string {
	shown := make([]string, len(names))
	for i, n := range names {
		shown[i] = displayName(n)
	}
	return strings.Join(shown, ", ")
}
