package web

import (
	"context"
	"log/slog"

	"github.com/rs/zerolog"
)

// slogHandler carries exporter-toolkit's slog records into zerolog as
// structured entries: the record's message is the message and its
// attributes are fields ("address", "http2"), not text nested inside the
// message.
type slogHandler struct {
	log    zerolog.Logger
	prefix string // the open groups, "a.b."
}

func (h slogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.GetLevel() <= zerologLevel(l)
}

func (h slogHandler) Handle(_ context.Context, r slog.Record) error {
	ev := h.log.WithLevel(zerologLevel(r.Level))
	r.Attrs(func(a slog.Attr) bool {
		addAttr(ev, h.prefix, a)
		return true
	})
	ev.Msg(r.Message)
	return nil
}

func (h slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	ctx := h.log.With()
	for _, a := range attrs {
		ctx = ctx.Interface(h.prefix+a.Key, a.Value.Resolve().Any())
	}
	return slogHandler{log: ctx.Logger(), prefix: h.prefix}
}

func (h slogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return slogHandler{log: h.log, prefix: h.prefix + name + "."}
}

func addAttr(ev *zerolog.Event, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		for _, g := range v.Group() {
			addAttr(ev, prefix+a.Key+".", g)
		}
	case slog.KindString:
		ev.Str(prefix+a.Key, v.String())
	case slog.KindBool:
		ev.Bool(prefix+a.Key, v.Bool())
	case slog.KindInt64:
		ev.Int64(prefix+a.Key, v.Int64())
	case slog.KindDuration:
		ev.Float64(prefix+a.Key+"_seconds", v.Duration().Seconds())
	default:
		if err, ok := v.Any().(error); ok {
			ev.AnErr(prefix+a.Key, err)
		} else {
			ev.Interface(prefix+a.Key, v.Any())
		}
	}
}

func zerologLevel(l slog.Level) zerolog.Level {
	switch {
	case l >= slog.LevelError:
		return zerolog.ErrorLevel
	case l >= slog.LevelWarn:
		return zerolog.WarnLevel
	case l >= slog.LevelInfo:
		return zerolog.InfoLevel
	}
	return zerolog.DebugLevel
}
