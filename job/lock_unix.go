//go:build unix

package job

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile creates (or opens) path and takes an exclusive flock on it,
// without waiting: ErrBusy if another process holds it. The file is
// checked to still be path once locked (a run ending meanwhile removes
// it), else the lock is taken again.
func lockFile(path string) (*os.File, error) {
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s is held: another dcor-stream writes the same file: %w", path, ErrBusy)
			}
			return nil, err
		}
		a, err1 := f.Stat()
		b, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return f, nil
		}
		f.Close() // removed by the run that held it: lock the new one
	}
	return nil, fmt.Errorf("%s: cannot take the lock: %w", path, ErrBusy)
}

// unlockFile removes the lock file, then releases the lock.
func unlockFile(f *os.File) error {
	os.Remove(f.Name())
	return f.Close()
}
