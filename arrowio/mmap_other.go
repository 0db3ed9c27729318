//go:build !unix

package arrowio

import "os"

// mmapFile returns no mapping: on this platform IPC files are read through
// the file (ReadAt), copying each batch.
func mmapFile(f *os.File, size int64) (data []byte, unmap func() error, err error) {
	return nil, nil, nil
}

// dropPages does nothing: there is no mapping on this platform.
func dropPages(data []byte, lo, hi int64) {}
