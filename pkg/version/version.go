// Package version holds build information, set at link time by the
// Makefile (-X) and otherwise read from the Go build info.
package version

import (
	"runtime"
	"runtime/debug"
)

// Set with -ldflags "-X github.com/ppwatch/ppwatch/pkg/version.Version=…".
var (
	Version  = ""
	Revision = ""
)

// Info returns version, revision and Go version.
func Info() (ver, rev, goVersion string) {
	ver, rev = Version, Revision
	if bi, ok := debug.ReadBuildInfo(); ok {
		if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && rev == "" {
				rev = s.Value
			}
		}
	}
	if ver == "" {
		ver = "devel"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev, runtime.Version()
}
