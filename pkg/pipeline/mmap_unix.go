//go:build unix

package pipeline

import (
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only; unmap releases them.
func mapFile(f *os.File, size int64) (data []byte, unmap func() error, err error) {
	data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	syscall.Madvise(data, syscall.MADV_SEQUENTIAL) // read ahead; a hint only
	return data, func() error { return syscall.Munmap(data) }, nil
}

// release tells the kernel the process is done with these pages of a
// mapping (offsets page-aligned): they leave its resident set, and the page
// cache keeps them. A scan of a large log then stays small.
func release(data []byte) {
	syscall.Madvise(data, syscall.MADV_DONTNEED)
}
