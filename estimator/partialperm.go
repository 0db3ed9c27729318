package estimator

import (
	"encoding/binary"
	"fmt"
)

// PartialPermutationTest holds the exact sums of the permutation test of
// pdCov(x, y; z) = 0 as energy::pdcov.test makes it (block.PermPass,
// block.PartialPermutations): with P_xz and P_yz the U-centred distance
// matrices of x and y projected off z's,
//
//	T   = sum_{i≠j} P_xz,ij·P_yz,ij
//	T_b = sum_{i≠j} P_xz,ij·P_yz,π_b(i)π_b(j)
//
// added tile by tile, T computed as the replicate of the identity so that
// the comparisons T_b ≥ T are exact and ties are ties. Unlike S_xy of
// PermutationTest, T does not follow from the Stats (P_yz mixes the
// centring of y and z), so it is a sum of its own: sum 0 is T, sum b+1 is
// T_b. The sums are exact, so shards merge to the same p-value. Memory:
// 8·w bytes per permutation.
type PartialPermutationTest struct {
	x, y, z int
	s       Sums // 0: T; b+1: T_b
}

// NewPartialPermutationTest returns empty sums for r permutations of the
// samples of y and z against x. It panics if r < 1.
func NewPartialPermutationTest(x, y, z, r int) *PartialPermutationTest {
	if r < 1 {
		panic("estimator: no permutations")
	}
	return &PartialPermutationTest{x: x, y: y, z: z, s: Sums{newBank(r + 1)}}
}

// R returns the number of permutations.
func (t *PartialPermutationTest) R() int { return t.s.Len() - 1 }

// Spaces returns the spaces x, y and z of the test.
func (t *PartialPermutationTest) Spaces() (x, y, z int) { return t.x, t.y, t.z }

// Add adds v[0] to T and v[b+1] to T_b for every b, exactly. It returns
// an error wrapping ErrOverflow, and adds nothing, for a value that is not
// finite. It panics if len(v) != R()+1.
func (t *PartialPermutationTest) Add(v []float64) error { return t.s.Add(v) }

// Merge adds o's sums (other tiles of the same test) to t. It returns an
// error wrapping ErrIncompatible for a test of other spaces or another
// number of permutations.
func (t *PartialPermutationTest) Merge(o *PartialPermutationTest) error {
	if o.x != t.x || o.y != t.y || o.z != t.z || o.R() != t.R() {
		return fmt.Errorf("partial permutation test of spaces %d, %d, %d × %d vs %d, %d, %d × %d: %w",
			o.x, o.y, o.z, o.R(), t.x, t.y, t.z, t.R(), ErrIncompatible)
	}
	return t.s.Merge(&o.s)
}

// PartialPermutationResult is the outcome of a partial permutation test.
type PartialPermutationResult struct {
	Statistic    float64 // T/(n−3) = n·U_product(P_xz, P_yz), energy's teststat
	Permutations int     // R
	Exceed       int     // #{b : T_b ≥ T}
	P            float64 // (1 + Exceed)/(1 + R)
}

// Result returns the test of the complete sums of n samples. Below 4
// samples there is no statistic: p is 1.
func (t *PartialPermutationTest) Result(n int) PartialPermutationResult {
	res := PartialPermutationResult{Permutations: t.R(), P: 1}
	if n < 4 {
		return res
	}
	for b := 1; b <= t.R(); b++ {
		if t.s.Cmp(b, 0) >= 0 {
			res.Exceed++
		}
	}
	res.P = float64(1+res.Exceed) / float64(1+t.R())
	res.Statistic = t.s.Float(0) / (float64(n) - 3)
	return res
}

const (
	partialPermMagic = "DCPZ"
	// partialPermVersion 2: the sums of the permutations of
	// block.PermutationScheme 2 (Fisher–Yates); version 1's were of the
	// Feistel permutations of scheme 1, which are not uniform.
	partialPermVersion = 2
)

// MarshalBinary encodes t, version 2, all numbers little endian:
//
//	bytes 0..3   magic "DCPZ"
//	byte  4      version (2)
//	uvarint      x, uvarint y, uvarint z: the spaces
//	uvarint      R, the number of permutations (at least 1)
//	bank         T, then T_b: R+1 rows (see Stats.MarshalBinary)
//	uint32       CRC-32C (Castagnoli) of every byte before it
//
// Equal sums have equal bytes.
func (t *PartialPermutationTest) MarshalBinary() ([]byte, error) {
	b := []byte(partialPermMagic)
	b = append(b, partialPermVersion)
	for _, v := range []int{t.x, t.y, t.z, t.R()} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	b = t.s.b.appendTo(b)
	return seal(b), nil
}

// UnmarshalBinary decodes an encoding of MarshalBinary into t. On error t
// is unchanged and the error wraps ErrCorrupt or ErrVersion.
func (t *PartialPermutationTest) UnmarshalBinary(data []byte) error {
	if len(data) > len(partialPermMagic) && string(data[:len(partialPermMagic)]) == partialPermMagic && data[len(partialPermMagic)] == 1 {
		return fmt.Errorf("partial permutation test version 1, the sums of the Feistel permutations of an earlier dcor-stream, which were not uniform: recompute the permutation pass with this version: %w", ErrVersion)
	}
	sp, bk, err := openTest(data, partialPermMagic, partialPermVersion, "partial permutation test", []string{"space x", "space y", "space z"}, 1)
	if err != nil {
		return err
	}
	*t = PartialPermutationTest{x: sp[0], y: sp[1], z: sp[2], s: Sums{bk}}
	return nil
}
