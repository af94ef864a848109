package app

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/rs/zerolog"
)

// NewLogger is the daemon's logger on w: level one of debug, info, warn,
// error; format json (for the journal and log shippers) or console (for
// people).
func NewLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("--log.level: unknown level %q (use debug, info, warn or error)", level)
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w}
	default:
		return zerolog.Logger{}, fmt.Errorf("--log.format: unknown format %q (use json or console)", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
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
