package estimator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
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
	encodingVersion = 4
	// maxSpaces bounds k in a decoded state, so that a corrupt header
	// cannot ask for a huge allocation.
	maxSpaces = 1 << 12
	// maxLimbs bounds the limbs of a decoded bank row: the products of
	// two float64 values span 2^−2148 to 2^2048, 66 limbs with the
	// headroom.
	maxLimbs = 80
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes s. Version 4 of the encoding, all numbers little
// endian:
//
//	bytes  0..3   magic "DCST"
//	byte   4      version (4)
//	uvarint       k, the number of spaces (1..4096)
//	uvarint       n, the number of samples
//	float64       exponent α
//	k × float64   shifts c_k
//	k × varint    scale exponents e_k
//	bank          S'_kl, k(k+1)/2 rows in PairIndex order
//	k × bank      the shifted row sums of each space, n rows
//	uint32        CRC-32C (Castagnoli) of every byte before it
//
// where a bank of m rows is
//
//	varint        lo, the exponent of its lowest limb in units of 64 bits
//	uvarint       w, limbs per row (0 if every row is 0; at most 80)
//	m × w × uint64  each row, a two's-complement integer (last limb signed),
//	              in units of 2^(64·lo)
//
// The banks are written in their least form (no limb that is zero in every
// row at the bottom, no limb that only extends the sign at the top), so
// states with the same sums have the same bytes whatever their history.
// The encoding is exact: UnmarshalBinary of it gives a state whose results
// are bit-identical to those of s. (Versions 1 to 3 held fixed-point
// sums on grids set by bounds; they are not read.)
func (s *Stats) MarshalBinary() ([]byte, error) {
	size := 5 + 2*binary.MaxVarintLen64 + 8*(1+s.k) + s.k*binary.MaxVarintLen64 + 4
	for _, b := range append([]bank{s.s}, s.rows...) {
		size += 2*binary.MaxVarintLen64 + 8*b.rows*b.w
	}
	b := make([]byte, 0, size)
	b = append(b, encodingMagic...)
	b = append(b, encodingVersion)
	b = binary.AppendUvarint(b, uint64(s.k))
	b = binary.AppendUvarint(b, uint64(s.n))
	b = appendFloat(b, s.exponent)
	for _, c := range s.shift {
		b = appendFloat(b, c)
	}
	for _, e := range s.scale {
		b = binary.AppendVarint(b, int64(e))
	}
	b = s.s.appendTo(b)
	for k := range s.rows {
		b = s.rows[k].appendTo(b)
	}
	return seal(b), nil
}

// seal appends the CRC-32C (Castagnoli) of every byte of b to b: the last
// 4 bytes of every encoding of this package.
func seal(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// open checks the envelope of an encoding of this package (its magic, its
// version byte and the CRC-32C of seal) before anything else is read, and
// returns a decoder of the bytes between the version and the checksum.
// The error wraps ErrCorrupt or ErrVersion; what names the encoding in it.
func open(data []byte, magic string, version byte, what string) (decoder, error) {
	m := len(magic)
	if len(data) < m+5 || string(data[:m]) != magic {
		return decoder{}, fmt.Errorf("bad magic: %w", ErrCorrupt)
	}
	if v := data[m]; v != version {
		return decoder{}, fmt.Errorf("%s version %d: %w", what, v, ErrVersion)
	}
	body := data[:len(data)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(data[len(data)-4:]); got != want {
		return decoder{}, fmt.Errorf("checksum %08x, want %08x: %w", got, want, ErrCorrupt)
	}
	return decoder{b: body[m+1:]}, nil
}

func appendFloat(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// least returns the least limb range [lo, hi) of bank limbs holding every
// row: hi == lo if every row is zero.
func (b *bank) least() (lo, hi int) {
	if b.w == 0 {
		return 0, 0
	}
	bottom, top := b.w, 0
	for i := range b.rows {
		r := b.row(i)
		for j := 0; j < bottom; j++ {
			if r[j] != 0 {
				bottom = j
				break
			}
		}
		// Limb j is needed if it is not the sign extension of limb j−1.
		for j := b.w - 1; j >= top; j-- {
			var ext uint64
			if j > 0 && int64(r[j-1]) < 0 {
				ext = ^uint64(0)
			}
			if j == 0 && r[0] != 0 || j > 0 && r[j] != ext {
				top = j + 1
				break
			}
		}
	}
	if bottom >= top {
		return 0, 0
	}
	return b.lo + bottom, b.lo + top
}

func (b *bank) appendTo(dst []byte) []byte {
	lo, hi := b.least()
	dst = binary.AppendVarint(dst, int64(lo))
	dst = binary.AppendUvarint(dst, uint64(hi-lo))
	if hi == lo {
		return dst // all zero: no limbs, and no loop over the rows
	}
	for i := range b.rows {
		r := b.row(i)
		for j := lo; j < hi; j++ {
			dst = binary.LittleEndian.AppendUint64(dst, r[j-b.lo])
		}
	}
	return dst
}

// UnmarshalBinary decodes a state written by MarshalBinary into s. On error
// s is unchanged and the error wraps ErrCorrupt or ErrVersion. The checksum
// is verified before anything else is read; then every float must be
// finite, the exponent in (0, 2], and the length exact.
func (s *Stats) UnmarshalBinary(data []byte) error {
	if len(data) >= 5 && string(data[:4]) == encodingMagic && data[4] >= 1 && data[4] < encodingVersion {
		return fmt.Errorf("version %d, written by an earlier dcor-stream whose fixed-point sums were not exact over the whole float64 range: recompute the state with this version: %w", data[4], ErrVersion)
	}
	d, err := open(data, encodingMagic, encodingVersion, "state")
	if err != nil {
		return err
	}
	k, n, err := d.shape(maxSpaces, 1<<48)
	if err != nil {
		return err
	}
	out := Stats{k: k, n: n, shift: make([]float64, k), scale: make([]int, k), rows: make([]bank, k)}
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
	for i := range out.scale {
		e, m := binary.Varint(d.b)
		if m <= 0 || e < -4096 || e > 4096 {
			return fmt.Errorf("scale: %w", ErrCorrupt)
		}
		d.b = d.b[m:]
		out.scale[i] = int(e)
	}
	if out.s, err = d.bank(int(k*(k+1)/2), "product sums"); err != nil {
		return err
	}
	for i := range out.rows {
		if out.rows[i], err = d.bank(int(n), "row sums"); err != nil {
			return err
		}
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d bytes after the last bank: %w", len(d.b), ErrCorrupt)
	}
	*s = out
	return nil
}

type decoder struct{ b []byte }

// shape reads the number of spaces k and samples n that start the
// encodings of Stats, Jackknife and Linear: 1 ≤ k ≤ maxK and n ≤ maxN
// (which bounds what is computed from n before the banks check their
// sizes against the bytes left).
func (d *decoder) shape(maxK int, maxN uint64) (k, n int, err error) {
	uk, err := d.uvarint("spaces")
	if err != nil {
		return 0, 0, err
	}
	un, err := d.uvarint("samples")
	if err != nil {
		return 0, 0, err
	}
	if uk < 1 || uk > uint64(maxK) || un > maxN {
		return 0, 0, fmt.Errorf("%d spaces, %d samples: %w", uk, un, ErrCorrupt)
	}
	return int(uk), int(un), nil
}

func (d *decoder) uvarint(what string) (uint64, error) {
	v, m := binary.Uvarint(d.b)
	if m <= 0 {
		return 0, fmt.Errorf("%s: bad varint: %w", what, ErrCorrupt)
	}
	d.b = d.b[m:]
	return v, nil
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

// bank reads a bank of rows rows, checking its size against the bytes
// left before allocating, and restores the headroom of its layout.
func (d *decoder) bank(rows int, what string) (bank, error) {
	lo, m := binary.Varint(d.b)
	if m <= 0 || lo < -4096 || lo > 4096 {
		return bank{}, fmt.Errorf("%s: bad limb exponent: %w", what, ErrCorrupt)
	}
	d.b = d.b[m:]
	w, err := d.uvarint(what)
	if err != nil {
		return bank{}, err
	}
	if w > maxLimbs {
		return bank{}, fmt.Errorf("%s: %d limbs a row: %w", what, w, ErrCorrupt)
	}
	if need := uint64(rows) * w * 8; need > uint64(len(d.b)) {
		return bank{}, fmt.Errorf("%s: %d rows of %d limbs, %d bytes left: %w", what, rows, w, len(d.b), ErrCorrupt)
	}
	b := newBank(rows)
	if w == 0 {
		if lo != 0 {
			return bank{}, fmt.Errorf("%s: empty bank at limb %d: %w", what, lo, ErrCorrupt)
		}
		return b, nil
	}
	b.lo, b.w = int(lo), int(w)
	b.v = make([]uint64, rows*int(w))
	for i := range b.v {
		b.v[i] = binary.LittleEndian.Uint64(d.b[8*i:])
	}
	d.b = d.b[8*len(b.v):]
	if l, h := b.least(); l != b.lo || h != b.lo+b.w {
		return bank{}, fmt.Errorf("%s: not in least form: %w", what, ErrCorrupt)
	}
	// The largest magnitude sets the headroom for later additions.
	top := 64 * b.lo
	mag := make([]uint64, b.w)
	for i := range rows {
		if magnitude(mag, b.row(i)) < 0 {
			continue
		}
		for j := len(mag) - 1; j >= 0; j-- {
			if mag[j] != 0 {
				top = max(top, 64*(b.lo+j)+bits.Len64(mag[j]))
				break
			}
		}
	}
	b.top = top
	b.ensure(b.lo, top)
	return b, nil
}
