package pipeline_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/loggen"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
)

// BenchmarkPipeline reads a generated Postfix log through ReadLines and the
// whole pipeline, as "ppwatch scan" does (without the report).
func BenchmarkPipeline(b *testing.B) {
	var log bytes.Buffer
	loggen.Write(&log, loggen.Options{Lines: 100000, Seed: 1})
	cfg := config.Default()
	cls, err := cfg.NewClassifier()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(log.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := cfg.PipelineOptions(event.Postfix, cls)
		o.Reference = func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }
		p, _ := pipeline.New(event.Postfix, o)
		n := 0
		var ev event.Delivery
		pipeline.ReadLines(bytes.NewReader(log.Bytes()), func(_ int, line string, _ bool) error {
			if res, _ := p.Line(line, &ev); res == pipeline.Parsed {
				n++
			}
			return nil
		})
		if n == 0 {
			b.Fatal("no events")
		}
	}
}
