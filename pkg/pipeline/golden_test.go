package pipeline_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/parsers"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenReference is the clock the golden files are made with: late enough
// for the Nov 2026 samples, early enough that "Dec 31" falls in 2025.
var goldenReference = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// TestGolden runs every testdata/<mta>/*.log through the whole pipeline and
// compares one JSON line per input line: the event, {"skip":true} or
// {"error":"…"}. Adding a case means adding a file; -update rewrites.
func TestGolden(t *testing.T) {
	cfg, err := config.Load("../../testdata/golden-config.yml")
	if err != nil {
		t.Fatal(err)
	}
	cls, err := cfg.NewClassifier()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range parsers.Table {
		mta := m.Name
		logs, _ := filepath.Glob(filepath.Join("../../testdata", mta, "*.log"))
		for _, path := range logs {
			t.Run(mta+"/"+filepath.Base(path), func(t *testing.T) {
				o := cfg.PipelineOptions(mta, cls)
				o.Reference = func() time.Time { return goldenReference }
				p, err := pipeline.New(mta, o)
				if err != nil {
					t.Fatal(err)
				}
				got := goldenOutput(t, p, path)
				want := strings.TrimSuffix(path, ".log") + ".golden.jsonl"
				if *update {
					if err := os.WriteFile(want, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				w, err := os.ReadFile(want)
				if err != nil {
					t.Fatalf("%v (run: go test ./pkg/pipeline -run Golden -update)", err)
				}
				if d := cmp.Diff(string(w), string(got)); d != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", want, d)
				}
			})
		}
	}
}

func goldenOutput(t *testing.T, p *pipeline.Pipeline, path string) []byte {
	t.Helper()
	f, err := pipeline.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	var ev event.Delivery
	err = f.Lines(func(n int, line string, tooLong bool) error {
		res, err := p.Line(line, &ev)
		switch {
		case tooLong:
			return enc.Encode(map[string]string{"error": "line too long"})
		case res == pipeline.Malformed:
			return enc.Encode(map[string]string{"error": err.Error()})
		case res == pipeline.Ignored:
			return enc.Encode(map[string]bool{"skip": true})
		}
		return enc.Encode(ev)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
