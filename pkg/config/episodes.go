package config

import "time"

// Episodes are the state file's runs of Proofpoint blocks and of
// deferrals, per sending IP and per (IP, recipient domain).
type Episodes struct {
	// Quiet is how long, by event time, an IP (or domain) goes without a
	// block (or deferral) before its episode closes.
	Quiet Duration `yaml:"quiet"`
	// Retention is how long episodes and the IPs' daily volumes are kept
	// after they end: far longer than the per-minute counts, so that a
	// recurring listing shows after the detail has gone.
	Retention Duration `yaml:"retention"`
}

// Defaults of the episodes keys, and the bounds of quiet: under a minute
// one minute's attempts would belong to two episodes of a key; over a week
// no episode would close.
const (
	DefaultEpisodeQuiet     = time.Hour
	DefaultEpisodeRetention = 400 * 24 * time.Hour
	MinEpisodeQuiet         = time.Minute
	MaxEpisodeQuiet         = 7 * 24 * time.Hour
)

func (c *Config) validateEpisodes(bad func(field, format string, args ...any)) {
	if q := time.Duration(c.Episodes.Quiet); q < MinEpisodeQuiet || q > MaxEpisodeQuiet {
		bad("episodes.quiet", "%s is outside 1m..7d", c.Episodes.Quiet)
	}
	if r := time.Duration(c.Episodes.Retention); r < 24*time.Hour {
		bad("episodes.retention", "%s is shorter than 1d", c.Episodes.Retention)
	}
}
