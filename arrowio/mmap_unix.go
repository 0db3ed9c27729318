//go:build unix

package arrowio

import (
	"fmt"
	"os"
	"syscall"
)

// mmapFile maps the first size bytes of f privately: the mapping is
// writable, so that a write by arrow-go into a buffer (it byte-swaps
// non-native data in place; verify.go refuses such data) would copy the
// page instead of faulting, and never reaches the file. The returned slice
// is valid until unmap is called. Batches of a mapped IPC file point into it,
// and a file truncated by another process while mapped faults (SIGBUS): the
// input must not change while it is read.
func mmapFile(f *os.File, size int64) (data []byte, unmap func() error, err error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil, fmt.Errorf("cannot map a file of %d bytes", size)
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		// Some file systems cannot be mapped: read through the file.
		return nil, nil, nil
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
