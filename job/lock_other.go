//go:build !unix

package job

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// lockFile creates path exclusively: ErrBusy if it exists (a lock file
// left by a killed run must then be removed by hand).
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists: another dcor-stream writes the same file (or remove it): %w", path, ErrBusy)
	}
	return f, err
}

func unlockFile(f *os.File) error {
	f.Close()
	return os.Remove(f.Name())
}
