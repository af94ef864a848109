//go:build unix

package tailer

import (
	"os"
	"syscall"
)

func devIno(st os.FileInfo) (dev, ino uint64) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return uint64(sys.Dev), uint64(sys.Ino) //nolint:unconvert // int32 on some platforms
}
