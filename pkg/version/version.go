// Package version is ppwatch's build information. It is Prometheus's
// (github.com/prometheus/common/version), so that ppwatch_build_info and
// "ppwatch version" read like every exporter's: the Makefile sets its
// variables at link time (-X), and what a plain "go build" leaves empty is
// filled in here from the Go build info.
package version

import (
	"runtime/debug"

	"github.com/prometheus/common/version"
)

// Program is the name in ppwatch_build_info and the version text.
const Program = "ppwatch"

func init() {
	if version.Version == "" {
		version.Version = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version.Version = bi.Main.Version
		}
	}
	if version.Branch == "" {
		version.Branch = "unknown"
	}
}

// Info returns version, revision and Go version.
func Info() (ver, rev, goVersion string) {
	return version.Version, version.GetRevision(), version.GoVersion
}

// Print is the text of "ppwatch version", as every exporter's --version
// prints it.
func Print() string { return version.Print(Program) }
