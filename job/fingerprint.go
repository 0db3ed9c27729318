package job

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"

	"golang.org/x/sync/errgroup"
)

// The fingerprint of a job's inputs is
//
//	SHA-256("dcor-stream inputs 1", n, K, for each space: dim, its column names,
//	        then h_0, h_1, …)
//
// where h_c = SHA-256 of the rows [c·T, (c+1)·T) (T the tile option), row
// by row, each row holding the float64 values (little endian) of every
// space in order. Every value is hashed, whatever the schedule: in memory
// the chunks are hashed in parallel once the data is loaded, under a
// memory budget while the first pass reads the rows; the later passes of
// the budget hash the chunks again and compare (see chunkHasher).

// chunkHasher hashes the rows of K spaces given in blocks of any size, in
// chunks of t rows. It is not safe for concurrent use.
type chunkHasher struct {
	t    int
	h    hash.Hash
	row  int // rows of the current chunk hashed
	buf  []byte
	sums [][sha256.Size]byte
	// check, if not nil, is called with each chunk's index and sum
	// (instead of appending it to sums).
	check func(c int, sum [sha256.Size]byte) error
	next  int // index of the current chunk
}

func newChunkHasher(t, from int) *chunkHasher {
	return &chunkHasher{t: t, h: sha256.New(), next: from / t}
}

// add hashes m rows of every space (row-major, dims[k] values per row).
func (c *chunkHasher) add(spaces [][]float64, dims []int, m int) error {
	for i := 0; i < m; {
		take := min(m-i, c.t-c.row)
		c.buf = appendRows(c.buf[:0], spaces, dims, i, i+take)
		c.h.Write(c.buf)
		c.row += take
		i += take
		if c.row == c.t {
			if err := c.end(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush ends a last, shorter chunk.
func (c *chunkHasher) flush() error {
	if c.row > 0 {
		return c.end()
	}
	return nil
}

func (c *chunkHasher) end() error {
	var s [sha256.Size]byte
	c.h.Sum(s[:0])
	c.h.Reset()
	c.row = 0
	idx := c.next
	c.next++
	if c.check != nil {
		return c.check(idx, s)
	}
	c.sums = append(c.sums, s)
	return nil
}

// appendRows appends the rows [a, b) of every space, interleaved row by
// row, as little-endian float64 bytes.
func appendRows(buf []byte, spaces [][]float64, dims []int, a, b int) []byte {
	for i := a; i < b; i++ {
		for k, x := range spaces {
			for _, v := range x[i*dims[k] : (i+1)*dims[k]] {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
			}
		}
	}
	return buf
}

// hashChunks returns the chunk sums of n rows held in memory, computed on
// up to workers goroutines (each chunk's sum does not depend on which).
func hashChunks(ctx context.Context, spaces [][]float64, dims []int, n, t, workers int) ([][sha256.Size]byte, error) {
	sums := make([][sha256.Size]byte, (n+t-1)/t)
	// No more goroutines than chunks: each allocates a chunk's buffer
	// (10^7 workers for 12 chunks spent minutes allocating).
	workers = max(1, min(workers, len(sums)))
	g, ctx := errgroup.WithContext(ctx)
	// Hashing is CPU bound: one goroutine per worker, a stride of chunks each.
	g.SetLimit(workers)
	for w := range workers {
		g.Go(func() error {
			h := sha256.New()
			width := 0
			for _, d := range dims {
				width += d
			}
			buf := make([]byte, 0, 8*width*min(n, t)) // one chunk's rows, allocated once
			for c := w; c < len(sums); c += workers {
				if err := ctx.Err(); err != nil {
					return err
				}
				buf = appendRows(buf[:0], spaces, dims, c*t, min(n, (c+1)*t))
				h.Reset()
				h.Write(buf)
				h.Sum(sums[c][:0])
			}
			return nil
		})
	}
	return sums, g.Wait()
}

// fingerprint combines the chunk sums of the spaces into the fingerprint.
func fingerprint(n int, spaces []SpaceInfo, sums [][sha256.Size]byte) string {
	h := sha256.New()
	io.WriteString(h, "dcor-stream inputs 1")
	put := func(v int) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	put(n)
	put(len(spaces))
	for _, sp := range spaces {
		put(sp.Dim)
		put(len(sp.Columns))
		for _, c := range sp.Columns {
			put(len(c))
			io.WriteString(h, c)
		}
	}
	for _, s := range sums {
		h.Write(s[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// passChecker returns a check for a chunkHasher of a later pass: each
// chunk must hash as in the first pass.
func passChecker(file string, t int, sums [][sha256.Size]byte) func(int, [sha256.Size]byte) error {
	return func(c int, s [sha256.Size]byte) error {
		if c >= len(sums) || s != sums[c] {
			return fmt.Errorf("%s: rows %d to %d differ from the first pass: the input changed during the run: %w", file, c*t, (c+1)*t-1, ErrChanged)
		}
		return nil
	}
}
