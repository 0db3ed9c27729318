package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Checkpointer keeps the progress of a job (see Spec.Checkpoint). Run
// calls its methods from the goroutine that called Run.
type Checkpointer interface {
	// Load returns the saved state, or nil and no error if there is none.
	Load(ctx context.Context) (*State, error)
	// Save stores s, replacing what was saved; s must not be kept (it
	// shares the running state): encode it.
	Save(ctx context.Context, s *State) error
	// Remove deletes the saved state: the job is done.
	Remove() error
	// String names the checkpoint in messages.
	String() string
}

// ErrBusy is returned by OpenStateFile when another process holds the
// file.
var ErrBusy = errors.New("state file in use by another process")

// StateFile is a state file on disk: a Checkpointer, and where a shard's
// state is written. Writes are atomic (a temporary file FILE.tmp-* in the
// same directory, synced, renamed over FILE, the directory synced), so
// the file always holds a whole state, the old or the new, whatever
// moment the process dies at. While open, a StateFile holds an exclusive
// lock (flock on FILE.lock, where the system has it), so two runs cannot
// write the same file. Call Close when done. A StateFile is not safe for
// concurrent use.
type StateFile struct {
	path string
	lock *os.File
}

// OpenStateFile prepares path to receive states. It refuses (ErrState) a
// path that is one of inputs (the files the job reads) or an existing
// file that is not a dcor-stream state (empty files aside), so that no
// data is overwritten; it takes the lock (ErrBusy if another process
// holds it); and it removes the temporary files FILE.tmp-* that a killed
// run left.
func OpenStateFile(path string, inputs []string) (*StateFile, error) {
	if fi, err := os.Stat(path); err == nil {
		for _, in := range inputs {
			if ii, err := os.Stat(in); err == nil && os.SameFile(fi, ii) {
				return nil, fmt.Errorf("%s is an input of this job; give another file for the state: %w", path, ErrState)
			}
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file: %w", path, ErrState)
		}
		if fi.Size() > 0 {
			head := make([]byte, len(stateMagic))
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			_, err = io.ReadFull(f, head)
			f.Close()
			if err != nil || !IsStateFile(head) {
				return nil, fmt.Errorf("%s exists and is not a dcor-stream state file; it is not overwritten: %w", path, ErrState)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	stale, _ := filepath.Glob(globEscape(path) + ".tmp-*")
	for _, p := range stale {
		os.Remove(p)
	}
	return &StateFile{path: path, lock: lock}, nil
}

// globEscape escapes the metacharacters of filepath.Match in p.
func globEscape(p string) string {
	var b []byte
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, p[i])
	}
	return string(b)
}

// String returns the path.
func (f *StateFile) String() string { return f.path }

// Load reads the state file (nil, nil if there is none).
func (f *StateFile) Load(ctx context.Context) (*State, error) {
	s, err := ReadStateFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil && s == nil {
		return nil, nil
	}
	return s, err
}

// Save writes s atomically.
func (f *StateFile) Save(ctx context.Context, s *State) error {
	b, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	t, err := os.CreateTemp(dir, filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := t.Name()
	_, err = t.Write(b)
	if err == nil {
		err = t.Sync()
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing state %s: %w", f.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: not every file system syncs directories
		d.Close()
	}
	return nil
}

// Remove deletes the state file.
func (f *StateFile) Remove() error {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Close releases the lock. It is idempotent.
func (f *StateFile) Close() error {
	if f.lock == nil {
		return nil
	}
	err := unlockFile(f.lock)
	f.lock = nil
	return err
}

// ReadStateFile reads and checks the state file at path (see
// State.UnmarshalBinary); an empty file is no state (nil, nil). Errors
// name the file.
func ReadStateFile(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	s := new(State)
	if err := s.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Source = path
	return s, nil
}
