package estimator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Errors returned by UnmarshalBinary.
var (
	// ErrCorrupt: the bytes are not a valid encoding of a Stats.
	ErrCorrupt = errors.New("estimator: corrupt state encoding")
	// ErrVersion: the encoding has a version this package does not read.
	ErrVersion = errors.New("estimator: unsupported state encoding version")
)

const (
	encodingMagic   = "DCST"
	encodingVersion = 3
	// maxSpaces bounds k in a decoded state, so that a corrupt header
	// cannot ask for a huge allocation.
	maxSpaces = 1 << 12
)

// MarshalBinary encodes s. Version 3 of the encoding, all numbers little
// endian:
//
//	bytes  0..3   magic "DCST"
//	byte   4      version (3)
//	uvarint       k, the number of spaces (1..4096)
//	uvarint       n, the number of samples
//	uvarint       capacity − n (0 unless the state was grown)
//	float64       exponent α
//	k × float64   shifts c_k
//	k × float64   bounds B_k
//	k(k+1)/2 × (int64 hi, uint64 lo)   S'_kl in units of its quantum, in PairIndex order
//	k × n × int64                      shifted row sums in units of their quantum, space by space
//
// The quanta are derived from the capacity and the bounds (see New and
// Grow), so they are not stored. The encoding is exact: UnmarshalBinary of
// it gives a state whose results are bit-identical to those of s.
// (Versions 1 and 2, without the capacity, are not read.)
func (s *Stats) MarshalBinary() ([]byte, error) {
	size := 5 + 2*binary.MaxVarintLen64 + 8*(1+2*s.k+2*len(s.s)+s.k*s.n)
	b := make([]byte, 0, size)
	b = append(b, encodingMagic...)
	b = append(b, encodingVersion)
	b = binary.AppendUvarint(b, uint64(s.k))
	b = binary.AppendUvarint(b, uint64(s.n))
	b = binary.AppendUvarint(b, uint64(s.capacity-s.n))
	b = appendFloat(b, s.exponent)
	for _, c := range s.shift {
		b = appendFloat(b, c)
	}
	for _, c := range s.bound {
		b = appendFloat(b, c)
	}
	for _, v := range s.s {
		b = binary.LittleEndian.AppendUint64(b, uint64(v.hi))
		b = binary.LittleEndian.AppendUint64(b, v.lo)
	}
	for _, r := range s.rows {
		for _, v := range r {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	}
	return b, nil
}

func appendFloat(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// UnmarshalBinary decodes a state written by MarshalBinary into s. On error
// s is unchanged and the error wraps ErrCorrupt or ErrVersion. Every float
// must be finite, the exponent in (0, 2], the bounds positive, every sum
// within its bound, and the length exact.
func (s *Stats) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	if len(data) < 5 || string(data[:4]) != encodingMagic {
		return fmt.Errorf("bad magic: %w", ErrCorrupt)
	}
	if v := data[4]; v != encodingVersion {
		return fmt.Errorf("version %d: %w", v, ErrVersion)
	}
	d.b = data[5:]
	k, err := d.uvarint("spaces")
	if err != nil {
		return err
	}
	if k < 1 || k > maxSpaces {
		return fmt.Errorf("%d spaces: %w", k, ErrCorrupt)
	}
	n, err := d.uvarint("samples")
	if err != nil {
		return err
	}
	extra, err := d.uvarint("capacity")
	if err != nil {
		return err
	}
	if extra > 1<<40 {
		return fmt.Errorf("capacity %d beyond n: %w", extra, ErrCorrupt)
	}
	pairs := k * (k + 1) / 2
	// Check the length before allocating anything sized by the header.
	if want := 8 * (1 + 2*k + 2*pairs); uint64(len(d.b)) < want || (uint64(len(d.b))-want)/8/k != n || (uint64(len(d.b))-want)%(8*k) != 0 {
		return fmt.Errorf("length %d does not fit %d spaces of %d samples: %w", len(data), k, n, ErrCorrupt)
	}
	out := Stats{k: int(k), n: int(n), capacity: int(n + extra), shift: make([]float64, k), bound: make([]float64, k), s: make([]int128, pairs), rows: make([][]int64, k)}
	if out.exponent, err = d.float("exponent"); err != nil {
		return err
	}
	if !(out.exponent > 0 && out.exponent <= 2) {
		return fmt.Errorf("exponent %v: %w", out.exponent, ErrCorrupt)
	}
	for i := range out.shift {
		if out.shift[i], err = d.float("shift"); err != nil {
			return err
		}
	}
	for i := range out.bound {
		if out.bound[i], err = d.float("bound"); err != nil {
			return err
		}
		if !(out.bound[i] > 0) {
			return fmt.Errorf("bound %v: %w", out.bound[i], ErrCorrupt)
		}
	}
	for i := range out.s {
		hi, lo := int64(d.uint64()), d.uint64()
		if hi >= 1<<(sBits-64) || hi < -(1<<(sBits-64)) {
			return fmt.Errorf("product sum out of range: %w", ErrCorrupt)
		}
		out.s[i] = int128{hi: hi, lo: lo}
	}
	for i := range out.rows {
		out.rows[i] = make([]int64, n)
		for j := range out.rows[i] {
			v := int64(d.uint64())
			if v >= 1<<rowBits || v <= -(1<<rowBits) {
				return fmt.Errorf("row sum out of range: %w", ErrCorrupt)
			}
			out.rows[i][j] = v
		}
	}
	out.setQuanta()
	*s = out
	return nil
}

type decoder struct{ b []byte }

func (d *decoder) uvarint(what string) (uint64, error) {
	v, m := binary.Uvarint(d.b)
	if m <= 0 {
		return 0, fmt.Errorf("%s: bad varint: %w", what, ErrCorrupt)
	}
	d.b = d.b[m:]
	return v, nil
}

// uint64 reads 8 bytes; the length was checked up front.
func (d *decoder) uint64() uint64 {
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) float(what string) (float64, error) {
	if len(d.b) < 8 {
		return 0, fmt.Errorf("%s: truncated: %w", what, ErrCorrupt)
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s: non-finite value: %w", what, ErrCorrupt)
	}
	return v, nil
}
