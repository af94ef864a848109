//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import (
	"io/fs"
	"os"
	"time"
)

// lockShared does nothing where flock is missing: bbolt's own lock on Open
// still keeps two daemons apart, and only a check beside a running daemon
// could read a commit half-written.
func lockShared(*os.File, time.Duration) error { return nil }

func chownLike(string, fs.FileInfo) {}
