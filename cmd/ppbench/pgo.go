package main

import (
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/ppwatch/ppwatch/pkg/cli"
)

// writeProfile writes the CPU profile that go build optimises ppwatch with
// (cmd/ppwatch/default.pgo): scan, run in this process, over the generated
// log of each MTA. The daemon parses and classifies with the same code, so
// it gains from the same profile.
func writeProfile(out, dir string, lines int, seed uint64) {
	var paths []string
	for _, b := range scanBenches {
		path, _ := writeScanLog(dir, b.mta, lines, seed)
		defer os.Remove(path)
		paths = append(paths, path)
	}
	f, err := os.Create(out)
	if err != nil {
		fail(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fail(err)
	}
	for i, b := range scanBenches {
		for run := 0; run < 8; run++ {
			env := cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
			if code := cli.Main([]string{"scan", "--mta", b.mta, paths[i]}, env); code != cli.ExitOK {
				pprof.StopCPUProfile()
				fail(os.ErrInvalid)
			}
		}
	}
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		fail(err)
	}
}
