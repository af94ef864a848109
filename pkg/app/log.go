package app

import (
	"strings"

	"github.com/rs/zerolog"
)

// zerologWriter carries exporter-toolkit's slog lines into zerolog.
type zerologWriter struct{ log zerolog.Logger }

func (w zerologWriter) Write(p []byte) (int, error) {
	w.log.Info().Str("component", "web").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
