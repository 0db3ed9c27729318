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

// dropPages tells the kernel that bytes lo..hi of the mapping data will not
// be needed soon (madvise MADV_DONTNEED), which frees their pages from the
// resident set. The mapping being private and never written, a page
// touched again is read back from the file: the data stays valid.
func dropPages(data []byte, lo, hi int64) {
	page := int64(os.Getpagesize())
	lo = lo / page * page
	if hi > int64(len(data)) {
		hi = int64(len(data))
	}
	if lo >= hi {
		return
	}
	_ = syscall.Madvise(data[lo:hi], syscall.MADV_DONTNEED) // advice only
}
