package arrowio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// tempFile is what a spill writes to and reads back: an *os.File, or in
// tests a file whose writes fail.
type tempFile interface {
	io.Writer
	io.ReaderAt
	io.Closer
	Name() string
}

func createTemp(dir string) (tempFile, error) {
	return os.CreateTemp(dir, "dcor-stream-spill-*.arrows")
}

// spill copies an Arrow IPC stream read once from a pipe into a temporary
// file as the first reader reads it (Read is a tee), so that later readers
// re-read the copy (by ReadAt, any number of them). The file is removed
// from its directory as soon as it is created where the system allows it
// (Unix: the open descriptor keeps the data, and the system frees it when
// the process ends, however it ends); elsewhere it is removed by close, by
// abort, and when a write fails.
//
// Read runs on the caller's goroutine, abort possibly on the goroutine of
// context.AfterFunc: mu guards the file.
type spill struct {
	src io.Reader // the pipe, positioned after what was sniffed

	mu     sync.Mutex
	f      tempFile // nil once closed
	path   string   // to remove; "" once removed
	w      *bufio.Writer
	size   int64 // bytes copied
	err    error // first failure, wrapping ErrSpill or the context's error
	done   bool  // the copy holds the whole stream and is flushed
	stop   func() bool
	closed bool
}

// newSpill creates the temporary file in dir (os.TempDir() if empty) and
// arranges for abort to run when ctx is done.
func newSpill(ctx context.Context, src io.Reader, opts Options) (*spill, error) {
	create := opts.createTemp
	if create == nil {
		create = createTemp
	}
	dir := opts.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := create(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpill, err)
	}
	s := &spill{src: src, f: f, path: f.Name(), w: bufio.NewWriterSize(f, 1<<20)}
	if os.Remove(s.path) == nil {
		s.path = ""
	}
	s.stop = context.AfterFunc(ctx, func() { s.abort(context.Cause(ctx)) })
	return s, nil
}

// Read reads from the pipe and copies what it read to the file. A failed
// write (a full disk) is returned as an error wrapping ErrSpill, after the
// file has been removed.
func (s *spill) Read(p []byte) (int, error) {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, rerr := s.src.Read(p)
	if n > 0 {
		s.mu.Lock()
		err = s.err
		if err == nil {
			if _, werr := s.w.Write(p[:n]); werr != nil {
				err = s.failLocked(fmt.Errorf("%w: %w", ErrSpill, werr))
			} else {
				s.size += int64(n)
			}
		}
		s.mu.Unlock()
		if err != nil {
			// Report no bytes: io.ReadFull would drop the error of a
			// complete read.
			return 0, err
		}
	}
	return n, rerr
}

// failLocked records err (the first failure wins), closes and removes the
// file, and returns the recorded error. s.mu is held.
func (s *spill) failLocked(err error) error {
	if s.err == nil {
		s.err = err
	}
	s.releaseLocked()
	return s.err
}

// releaseLocked closes and removes the file. s.mu is held.
func (s *spill) releaseLocked() error {
	var err error
	if s.f != nil {
		err = s.f.Close()
		s.f = nil
		s.w = nil
	}
	if s.path != "" {
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
		s.path = ""
	}
	return err
}

// abort removes the file because ctx is done; readers then fail.
func (s *spill) abort(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLocked(fmt.Errorf("temporary copy removed: %w", cause))
}

// finish completes the copy: it reads the rest of the stream, message by
// message up to the end-of-stream marker, through the tee (when the first
// reader stopped early), then flushes the file. rest is nil when the first
// reader reached the end of the stream.
func (s *spill) finish(rest *messageReader) error {
	if rest != nil {
		for {
			_, err := rest.Message()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rest.Release()
				return s.readErr(err)
			}
		}
		rest.Release()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if err := s.w.Flush(); err != nil {
		return s.failLocked(fmt.Errorf("%w: %w", ErrSpill, err))
	}
	s.done = true
	return nil
}

// readErr returns the spill's own failure if there was one (a read error
// after a failed write is its consequence), else err as a corrupt input.
func (s *spill) readErr(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return corrupt(err)
}

// reader returns a reader of the complete copy.
func (s *spill) reader() (io.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if !s.done || s.f == nil {
		return nil, errors.New("spill is not complete")
	}
	return bufio.NewReaderSize(io.NewSectionReader(s.f, 0, s.size), 1<<16), nil
}

// close closes and removes the file; idempotent.
func (s *spill) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.stop != nil {
		s.stop()
	}
	return s.releaseLocked()
}
