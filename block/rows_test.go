package block

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// The row kernels (uni1, uni2, directRow, absRow) against their Go
// versions (uni1Go, …): on amd64 with AVX2 and FMA they run the assembly
// of rows_amd64.s for the columns in multiples of 4; elsewhere they are
// the Go versions and these tests compare them with themselves.

// rowLengths covers the assembly blocks (16 or 8 columns, then 4) and the
// Go tails, short rows and a whole default tile.
var rowLengths = []int{0, 1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 19, 20, 23, 24, 31, 33, 47, 63, 64, 100, 255, 256}

func randVec(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64() * scale
	}
	return v
}

// TestUniRowsAgree compares uni1 and uni2 with uni1Go and uni2Go: column
// sums to 1e-15 of their terms, and the returned sums to 1e-13 of the sums
// of the absolute values of their terms.
func TestUniRowsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, sq := range []bool{false, true} {
		for _, n := range rowLengths {
			for _, off := range []int{0, 1, 3} {
				ya, yb := randVec(rng, n+off, 2)[off:], randVec(rng, n+off, 5)[off:]
				if n > 10 {
					yb[7] = 1.25 // |xb - yb| = 0
				}
				xa, xb, ca, cb := 0.3, 1.25, 1.1, 4.5
				colA, colB := randVec(rng, n, 10), randVec(rng, n, 10)
				gA, gB := append([]float64(nil), colA...), append([]float64(nil), colB...)
				wA, wB := append([]float64(nil), colA...), append([]float64(nil), colB...)
				name := fmt.Sprintf("sq=%v/n=%d/off=%d", sq, n, off)

				// Scales: sums of |a|, a², |ab|, b² over the row.
				var magA, magB, magAA, magAB, magBB float64
				for j := range n {
					a, b := math.Abs(xa-ya[j])-ca, math.Abs(xb-yb[j])-cb
					if sq {
						a, b = (xa-ya[j])*(xa-ya[j])-ca, (xb-yb[j])*(xb-yb[j])-cb
					}
					magA += math.Abs(a) + ca
					magB += math.Abs(b) + cb
					magAA += a * a
					magAB += math.Abs(a * b)
					magBB += b * b
				}

				r, s := uni1(xa, ya, gA, ca, sq)
				rw, sw := uni1Go(xa, ya, wA, ca, sq)
				if !scalar.EqualWithinAbs(r, rw, 1e-13*magA) || !scalar.EqualWithinAbs(s, sw, 1e-13*magAA) {
					t.Errorf("uni1(%s) = %v, %v, want %v, %v", name, r, s, rw, sw)
				}
				checkCol(t, "uni1("+name+") col", gA, wA)

				gA, wA = append(gA[:0], colA...), append(wA[:0], colA...)
				got := make([]float64, 5)
				want := make([]float64, 5)
				got[0], got[1], got[2], got[3], got[4] = uni2(xa, xb, ya, yb, gA, gB, ca, cb, sq)
				want[0], want[1], want[2], want[3], want[4] = uni2Go(xa, xb, ya, yb, wA, wB, ca, cb, sq)
				for x, mag := range []float64{magA, magB, magAA, magAB, magBB} {
					if !scalar.EqualWithinAbs(got[x], want[x], 1e-13*mag) {
						t.Errorf("uni2(%s) sum %d = %v, want %v", name, x, got[x], want[x])
					}
				}
				checkCol(t, "uni2("+name+") colA", gA, wA)
				checkCol(t, "uni2("+name+") colB", gB, wB)
			}
		}
	}
}

func checkCol(t *testing.T, name string, got, want []float64) {
	t.Helper()
	for j := range got {
		if !scalar.EqualWithinAbsOrRel(got[j], want[j], 1e-14, 1e-14) {
			t.Errorf("%s[%d] = %v, want %v", name, j, got[j], want[j])
			return
		}
	}
}

// TestDirectRowAgrees compares directRow with directRowGo for every
// dimension of the direct path, 1e-14 relative per squared distance, and
// checks that duplicated rows are at exactly 0; and absRow with absRowGo
// for every exponent class.
func TestDirectRowAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for dim := 1; dim < gramMinDim; dim++ {
		for _, n := range rowLengths {
			for _, j0 := range []int{0, 1, 6} {
				stride := n + j0 + 3
				b := randVec(rng, dim*stride, 3)
				xi := randVec(rng, dim, 3)
				dup := map[int]bool{}
				for _, j := range []int{0, 5, 18, n - 1} {
					if j >= 0 && j < n {
						dup[j] = true
						for q := range dim {
							b[q*stride+j0+j] = xi[q]
						}
					}
				}
				got, want := randVec(rng, n, 1), randVec(rng, n, 1)
				directRow(got, xi, b, stride, j0)
				directRowGo(want, xi, b, stride, j0)
				for j := range n {
					if dup[j] && got[j] != 0 {
						t.Errorf("directRow(dim=%d, n=%d, j0=%d)[%d] = %v for a duplicated row, want exactly 0", dim, n, j0, j, got[j])
					}
					if !scalar.EqualWithinRel(got[j], want[j], 1e-14) {
						t.Errorf("directRow(dim=%d, n=%d, j0=%d)[%d] = %v, want %v", dim, n, j0, j, got[j], want[j])
						break
					}
				}
			}
		}
	}

	for _, alpha := range []float64{1, 2, 0.5, 1.5, 0.7} {
		p := &plan{alpha: alpha, pow: powerOf(alpha)}
		for _, n := range rowLengths {
			b := randVec(rng, n, 3)
			x := 0.4
			if n > 2 {
				b[2] = x
			}
			got, want := make([]float64, n), make([]float64, n)
			p.absRow(got, x, b, 0.9)
			p.absRowGo(want, x, b, 0.9)
			for j := range n {
				if !scalar.EqualWithinAbsOrRel(got[j], want[j], 1e-15, 1e-15) {
					t.Errorf("absRow(α=%v, n=%d)[%d] = %v, want %v", alpha, n, j, got[j], want[j])
					break
				}
			}
		}
	}
}

// refTile is plan.tile for plans without Gram spaces, from the Go row
// kernels pair by pair, and the scales of the terms of s, rowI and rowJ.
func refTile(p *plan, i0, ni, j0, nj int, diag bool, shift []float64) (s []float64, rowI, rowJ [][]float64, magS []float64, magRow, magJ [][]float64) {
	s = make([]float64, p.k*(p.k+1)/2)
	magS = make([]float64, len(s))
	pi, pj, d := make([][]float64, p.k), make([][]float64, p.k), make([][]float64, p.k)
	rowI, rowJ, magRow = make([][]float64, p.k), make([][]float64, p.k), make([][]float64, p.k)
	magJ = make([][]float64, p.k)
	for k, sp := range p.spaces {
		pi[k] = make([]float64, ni*sp.Dim)
		pj[k] = make([]float64, nj*sp.Dim)
		loadCols(pi[k], nil, sp, p.mean[k], i0, ni)
		loadCols(pj[k], nil, sp, p.mean[k], j0, nj)
		d[k] = make([]float64, nj)
		rowI[k], rowJ[k], magRow[k] = make([]float64, ni), make([]float64, nj), make([]float64, ni)
		magJ[k] = make([]float64, nj)
	}
	for i := range ni {
		j := 0
		if diag {
			j = i + 1
		}
		for k, sp := range p.spaces {
			if sp.Dim == 1 {
				p.absRowGo(d[k][j:], pi[k][i], pj[k][j:], shift[k])
				continue
			}
			xi := make([]float64, sp.Dim)
			for q := range xi {
				xi[q] = pi[k][q*ni+i]
			}
			directRowGo(d[k][j:], xi, pj[k], nj, j)
			p.raise(d[k][j:], shift[k])
		}
		for ; j < nj; j++ {
			q := 0
			for k := range p.k {
				a := d[k][j]
				rowI[k][i] += a
				rowJ[k][j] += a
				magRow[k][i] += 2*math.Abs(a) + math.Abs(shift[k])
				magJ[k][j] += 2*math.Abs(a) + math.Abs(shift[k])
				for l := k; l < p.k; l++ {
					b := d[l][j]
					s[q] += 2 * a * b
					magS[q] += 2 * (2*math.Abs(a) + math.Abs(shift[k])) * (2*math.Abs(b) + math.Abs(shift[l]))
					q++
				}
			}
		}
	}
	if diag {
		for k := range p.k {
			for i := range ni {
				rowI[k][i] += rowJ[k][i]
				magRow[k][i] += magJ[k][i]
			}
		}
	}
	return s, rowI, rowJ, magS, magRow, magJ
}

// TestRowKernelsTile checks plan.tile on the univariate and direct paths
// (the row kernels in their place) against refTile, to 1e-13 of the scale
// of each sum, on diagonal, off-diagonal and ragged tiles.
func TestRowKernelsTile(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	const n, ts = 257, 100
	sp := map[int]Space{}
	for _, dim := range []int{1, 2, 3, 5, 8, 15} {
		sp[dim] = randSpace(rng, n, dim)
	}
	sp1b := randSpace(rng, n, 1)
	for _, tc := range []struct {
		name   string
		spaces []Space
	}{
		{"uni K=1", []Space{sp[1]}},
		{"uni K=2", []Space{sp[1], sp1b}},
		{"uni K=3", []Space{sp[1], sp1b, sp[1]}},
		{"dim=2", []Space{sp[2]}},
		{"dim=3,5", []Space{sp[3], sp[5]}},
		{"dim=8,8", []Space{sp[8], sp[8]}},
		{"dim=15,1", []Space{sp[15], sp[1]}},
	} {
		for _, alpha := range []float64{1, 2, 0.5, 0.7} {
			p := newPlan(tc.spaces, n, alpha, ts, kernelAuto)
			sc := p.newScratch()
			shift := make([]float64, p.k)
			for k := range shift {
				shift[k] = naiveShift(tc.spaces[k], 30, alpha)
			}
			for _, bij := range [][2]int{{0, 0}, {0, 1}, {1, 2}, {2, 2}} {
				i0, j0 := bij[0]*ts, bij[1]*ts
				ni, nj := min(ts, n-i0), min(ts, n-j0)
				diag := i0 == j0
				s := make([]float64, p.k*(p.k+1)/2)
				rowI, rowJ := make([][]float64, p.k), make([][]float64, p.k)
				for k := range p.k {
					rowI[k], rowJ[k] = make([]float64, ts), make([]float64, ts)
				}
				p.tile(sc, i0, ni, j0, nj, diag, shift, s, rowI, rowJ)
				ws, wI, wJ, magS, magRow, magJ := refTile(p, i0, ni, j0, nj, diag, shift)
				name := fmt.Sprintf("%s/α=%v/tile=%v", tc.name, alpha, bij)
				for q := range s {
					if !scalar.EqualWithinAbs(s[q], ws[q], 1e-13*magS[q]) {
						t.Errorf("%s: s[%d] = %v, want %v", name, q, s[q], ws[q])
					}
				}
				for k := range p.k {
					for i := range ni {
						if !scalar.EqualWithinAbs(rowI[k][i], wI[k][i], 1e-13*magRow[k][i]) {
							t.Errorf("%s: rowI[%d][%d] = %v, want %v", name, k, i, rowI[k][i], wI[k][i])
							break
						}
					}
					if diag {
						continue
					}
					for j := range nj {
						if !scalar.EqualWithinAbs(rowJ[k][j], wJ[k][j], 1e-13*magJ[k][j]) {
							t.Errorf("%s: rowJ[%d][%d] = %v, want %v", name, k, j, rowJ[k][j], wJ[k][j])
							break
						}
					}
				}
			}
		}
	}
}

// TestRowKernelsCompute checks Compute on the univariate and direct paths
// against the naive sums (1e-12 of their scale), with ragged tiles.
func TestRowKernelsCompute(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	const n = 157
	x1, y1, x8, y3 := randSpace(rng, n, 1), randSpace(rng, n, 1), randSpace(rng, n, 8), randSpace(rng, n, 3)
	copy(x8.Data[10*8:11*8], x8.Data[50*8:51*8]) // duplicated rows
	for _, spaces := range [][]Space{{x1}, {x1, y1}, {x8, y3}, {x8, y1}} {
		for _, alpha := range []float64{1, 2, 0.5} {
			for _, ts := range []int{40, 100} {
				st, err := compute(t.Context(), spaces, Options{Exponent: alpha, TileSize: ts, Workers: 2}, kernelAuto)
				if err != nil {
					t.Fatal(err)
				}
				shift := make([]float64, len(spaces))
				for k := range shift {
					shift[k] = st.Shift(k)
				}
				want, magS, magRows := naive(spaces, alpha, shift, scales(st))
				compareState(t, fmt.Sprintf("dims=%d,…/α=%v/tile=%d", spaces[0].Dim, alpha, ts), st, want, magS, magRows, 1e-12)
			}
		}
	}
}

// TestRaiseRow checks that raiseRow gives plan.raise's results bit for bit
// on the columns it handles, and leaves the others alone.
func TestRaiseRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(39, 40))
	for _, alpha := range []float64{2, 1, 0.5, 1.5, 0.7} {
		p := &plan{alpha: alpha, pow: powerOf(alpha)}
		for _, n := range rowLengths {
			d := randVec(rng, n, 3)
			for j := range d {
				d[j] *= d[j]
			}
			if n > 3 {
				d[3] = 0
			}
			got, want := append([]float64(nil), d...), append([]float64(nil), d...)
			m := raiseRow(got, 0.8, p.pow)
			p.raise(want[:m], 0.8)
			for j := range n {
				if j < m && got[j] != want[j] || j >= m && got[j] != d[j] {
					t.Errorf("raiseRow(α=%v, n=%d)[%d] = %v, want %v (m = %d)", alpha, n, j, got[j], want[j], m)
					break
				}
			}
		}
	}
}
