// Package journal follows the systemd journal through "journalctl --follow
// --output=json" (no cgo) and turns each entry back into a syslog line
// ("2026-11-22T09:15:02.123456Z host postfix/smtp[1410]: …") that the MTA
// parsers read as they read a log file. The position is journald's cursor:
// the caller commits the cursor of the last entry it counted, and a restart
// resumes after it.
package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Config says what to follow.
type Config struct {
	Units   []string // systemd units, e.g. postfix@-.service
	Cursor  string   // resume after this entry; "" reads the units' whole journal
	Command string   // default "journalctl"
	Logger  zerolog.Logger
	// State, if set, hears nil each time journalctl has started and the
	// error each time it stopped or could not start, for the input's
	// health. It is called from Run's goroutine.
	State func(err error)
}

// Check tells whether cfg's journalctl can be started at all.
func Check(cfg Config) error {
	if cfg.Command == "" {
		cfg.Command = "journalctl"
	}
	if _, err := exec.LookPath(cfg.Command); err != nil {
		return fmt.Errorf("journald input: %w (install systemd's journalctl, or read a log file instead)", err)
	}
	return nil
}

// Entry is one journal entry as a syslog line, with its cursor.
type Entry struct {
	Line   string
	Cursor string
}

// Args returns journalctl's arguments for cfg.
func Args(cfg Config) []string {
	args := []string{"--follow", "--output=json", "--no-pager", "--all"}
	for _, u := range cfg.Units {
		args = append(args, "--unit="+u)
	}
	if cfg.Cursor != "" {
		args = append(args, "--after-cursor="+cfg.Cursor)
	}
	return args
}

// Run follows the journal until ctx is done. journalctl is restarted (after
// the last cursor seen) if it exits, with a pause that grows to a minute.
// out blocks: nothing is dropped when the consumer is slow.
func Run(ctx context.Context, cfg Config, out chan<- Entry) error {
	if cfg.Command == "" {
		cfg.Command = "journalctl"
	}
	pause := time.Second
	for {
		start := time.Now()
		err := follow(ctx, &cfg, out)
		if ctx.Err() != nil {
			return nil
		}
		if cfg.State != nil {
			cfg.State(err)
		}
		if time.Since(start) > time.Minute {
			pause = time.Second
		}
		cfg.Logger.Warn().Err(err).Float64("retry_in_seconds", pause.Seconds()).Msg("journalctl stopped; restarting")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Minute)
	}
}

func follow(ctx context.Context, cfg *Config, out chan<- Entry) error {
	cmd := exec.CommandContext(ctx, cfg.Command, Args(*cfg)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	if cfg.State != nil {
		cfg.State(nil)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 2<<20)
	for sc.Scan() {
		e, err := Decode(sc.Bytes())
		if err != nil {
			cfg.Logger.Warn().Err(err).Msg("journal entry skipped")
			continue
		}
		select {
		case out <- e:
			cfg.Cursor = e.Cursor
		case <-ctx.Done():
			cmd.Wait()
			return ctx.Err()
		}
	}
	err = cmd.Wait()
	if err == nil {
		err = errors.New("journalctl exited")
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		err = fmt.Errorf("%w: %s", err, s)
	}
	return err
}

// Decode turns one line of journalctl's JSON output into an Entry.
func Decode(b []byte) (Entry, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Entry{}, err
	}
	field := func(k string) string {
		v, ok := raw[k]
		if !ok {
			return ""
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		// Non-UTF-8 values come as arrays of bytes.
		var bs []byte
		var ints []int
		if json.Unmarshal(v, &ints) == nil {
			for _, i := range ints {
				bs = append(bs, byte(i))
			}
			return string(bs)
		}
		return ""
	}
	cursor := field("__CURSOR")
	if cursor == "" {
		return Entry{}, errors.New("entry without __CURSOR")
	}
	us, err := strconv.ParseInt(field("__REALTIME_TIMESTAMP"), 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("entry %s: __REALTIME_TIMESTAMP: %v", cursor, err)
	}
	ts := time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	host := field("_HOSTNAME")
	if host == "" {
		host = "localhost"
	}
	tag := field("SYSLOG_IDENTIFIER")
	if tag == "" {
		tag = field("_COMM")
	}
	if pid := field("SYSLOG_PID"); pid != "" {
		tag += "[" + pid + "]"
	} else if pid := field("_PID"); pid != "" {
		tag += "[" + pid + "]"
	}
	return Entry{Line: ts + " " + host + " " + tag + ": " + field("MESSAGE"), Cursor: cursor}, nil
}
