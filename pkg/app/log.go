package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"

	"github.com/go-logfmt/logfmt"

	"github.com/rs/zerolog"
)

// NewLogger is the daemon's logger on w: level one of debug, info, warn,
// error; format json (for the journal and log shippers), logfmt (as
// Prometheus and its exporters log) or console (for people).
func NewLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("--log.level: unknown level %q (use debug, info, warn or error)", level)
	}
	switch format {
	case "json":
	case "logfmt":
		w = logfmtWriter{w}
	case "console":
		w = zerolog.ConsoleWriter{Out: w}
	default:
		return zerolog.Logger{}, fmt.Errorf("--log.format: unknown format %q (use json, logfmt or console)", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// logfmtWriter writes zerolog's JSON entries, one per Write, as logfmt
// lines: time, level and message first, then the fields in their order.
// Strings are quoted where logfmt needs it; objects and lists stay JSON.
type logfmtWriter struct{ w io.Writer }

func (l logfmtWriter) Write(p []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(p))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return l.w.Write(p) // not an entry: as it is
	}
	var keys []string
	vals := map[string]any{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return l.w.Write(p)
		}
		k, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return l.w.Write(p)
		}
		var v any = string(raw)
		var str string
		if raw[0] == '"' && json.Unmarshal(raw, &str) == nil {
			v = str
		}
		if _, dup := vals[k]; !dup {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	var buf bytes.Buffer
	enc := logfmt.NewEncoder(&buf)
	first := []string{zerolog.TimestampFieldName, zerolog.LevelFieldName, zerolog.MessageFieldName}
	for _, k := range first {
		if v, ok := vals[k]; ok {
			enc.EncodeKeyval(k, v)
		}
	}
	for _, k := range keys {
		if !slices.Contains(first, k) {
			enc.EncodeKeyval(k, vals[k])
		}
	}
	enc.EndRecord()
	if _, err := l.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// defaultMemoryLimit is the daemon's soft Go memory limit.
const defaultMemoryLimit = 48 << 20

// defaultGCPercent is the daemon's GOGC.
const defaultGCPercent = 200

// SetMemoryDefaults sets the daemon's Go memory limit and GOGC unless the
// environment sets them. A soft limit on the Go heap keeps the daemon
// small on a busy MTA host (the state file's mapped pages come on top);
// under it the heap may grow to three times what is live before a
// collection: with GOGC's 100 the collector took a quarter of the catch-up
// time over a small live heap.
func SetMemoryDefaults() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
