package block

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// TestStripKernelsAgree compares each strip kernel of every kernel set of
// this CPU with the pure-Go one on random panels, within 1e-13 of the
// scale of the sums (the sum of the absolute values of their terms).
func TestStripKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	ref := goKernels()
	for _, ks := range kernelSets() {
		for _, dim := range []int{1, 3, 16, 64, 257} {
			for _, nb := range []int{1, 3} {
				a := make([]float64, nb*mr*dim)
				b := make([]float64, nr*dim)
				absA := make([]float64, len(a))
				absB := make([]float64, len(b))
				for i := range a {
					a[i] = rng.NormFloat64()
					absA[i] = math.Abs(a[i])
				}
				for i := range b {
					b[i] = rng.NormFloat64()
					absB[i] = math.Abs(b[i])
				}
				got := make([]float64, nb*mr*nr)
				want := make([]float64, nb*mr*nr)
				scale := make([]float64, nb*mr*nr)
				ks.gramStrip(dim, nb, a, b, got)
				ref.gramStrip(dim, nb, a, b, want)
				ref.gramStrip(dim, nb, absA, absB, scale)
				for x := range got {
					if !scalar.EqualWithinAbs(got[x], want[x], 1e-13*scale[x]) {
						t.Fatalf("%s gramStrip(dim=%d, nb=%d)[%d] = %v, want %v", ks.name, dim, nb, x, got[x], want[x])
					}
				}
			}
		}

		// distStrip on inner products of real rows, with duplicated and
		// nearly duplicated rows, for every mode and mask.
		const rows, dim = 2 * mr, 5
		x := make([][]float64, rows+nr)
		for i := range x {
			x[i] = make([]float64, dim)
			for q := range x[i] {
				x[i][q] = rng.NormFloat64()
			}
		}
		copy(x[rows+3], x[1]) // duplicate: d² = 0
		copy(x[rows+5], x[2]) // near-duplicate
		x[rows+5][0] += 1e-5
		norm := func(v []float64) (s float64) {
			for _, u := range v {
				s += u * u
			}
			return s
		}
		na, nb := make([]float64, rows), make([]float64, nr)
		g := make([]float64, rows*nr)
		for i := range rows {
			na[i] = norm(x[i])
			for c := range nr {
				for q := range dim {
					g[i*nr+c] += x[i][q] * x[rows+c][q]
				}
			}
		}
		for c := range nr {
			nb[c] = norm(x[rows+c])
		}
		for _, jmode := range []string{"all", "diag", "edge"} {
			jidx := stripJidx(jmode)
			for mode := modeTwo; mode <= modeThreeHalves; mode++ {
				got, want := append([]float64(nil), g...), append([]float64(nil), g...)
				fg, fw := make([]uint8, rows), make([]uint8, rows)
				rsG, rsW := make([]float64, rows), make([]float64, rows)
				colG, colW := make([]float64, nr), make([]float64, nr)
				for i := range rows {
					rsG[i], rsW[i] = math.NaN(), 1 // overwritten, not added to
				}
				for c := range nr {
					colG[c], colW[c] = math.NaN(), 1
				}
				var other []float64 // another space's strip, or none
				if mode%2 == 1 {
					other = make([]float64, rows*nr)
					for i := range other {
						other[i] = rng.NormFloat64()
					}
				}
				ng, sqG, dotG := ks.distStrip(rows, got, na, nb, &jidx, 0, 0.75, mode, fg, rsG, colG, other)
				nw, sqW, dotW := ref.distStrip(rows, want, na, nb, &jidx, 0, 0.75, mode, fw, rsW, colW, other)
				if other == nil && (dotG != 0 || dotW != 0) {
					t.Errorf("%s distStrip(%s, mode %d) dot without other = %v (go %v), want 0", ks.name, jmode, mode, dotG, dotW)
				}
				if other != nil {
					if d := ref.dotStrip(rows*nr, other, want); dotW != d {
						t.Errorf("go distStrip(%s, mode %d) dot = %v, want dotStrip's %v", jmode, mode, dotW, d)
					}
					if !scalar.EqualWithinAbsOrRel(dotG, dotW, 1e-13, 1e-13) {
						t.Errorf("%s distStrip(%s, mode %d) dot = %v, want %v", ks.name, jmode, mode, dotG, dotW)
					}
				}
				// The sums of what was written, by accStrip.
				rs, col := make([]float64, rows), make([]float64, nr)
				sq := ref.accStrip(rows, want, rs, col)
				if sqW != sq || !slices.Equal(rsW, rs) || !slices.Equal(colW, col) {
					t.Errorf("go distStrip(%s, mode %d) sums %v %v %v, want accStrip's %v %v %v", jmode, mode, sqW, rsW, colW, sq, rs, col)
				}
				if !scalar.EqualWithinAbsOrRel(sqG, sqW, 1e-13, 1e-13) {
					t.Errorf("%s distStrip(%s, mode %d) sum of squares %v, want %v", ks.name, jmode, mode, sqG, sqW)
				}
				for r := range rows {
					if !scalar.EqualWithinAbsOrRel(rsG[r], rsW[r], 1e-13, 1e-13) {
						t.Errorf("%s distStrip(%s, mode %d) row sum %d = %v, want %v", ks.name, jmode, mode, r, rsG[r], rsW[r])
					}
				}
				for c := range nr {
					if !scalar.EqualWithinAbsOrRel(colG[c], colW[c], 1e-13, 1e-13) {
						t.Errorf("%s distStrip(%s, mode %d) column sum %d = %v, want %v", ks.name, jmode, mode, c, colG[c], colW[c])
					}
				}
				if ng != nw || string(fg) != string(fw) {
					t.Errorf("%s distStrip(%s, mode %d) flags %v (%d), want %v (%d)", ks.name, jmode, mode, fg, ng, fw, nw)
				}
				if jmode == "all" && (fw[1] != 1 || fw[2] != 1) {
					t.Errorf("distStrip(mode %d) did not flag the duplicated rows: %v", mode, fw)
				}
				for i := range got {
					if !scalar.EqualWithinAbsOrRel(got[i], want[i], 1e-15, 1e-14) {
						t.Errorf("%s distStrip(%s, mode %d)[%d] = %v, want %v", ks.name, jmode, mode, i, got[i], want[i])
						break
					}
				}
			}
		}

		for _, r := range []int{1, 7, 2 * mr} {
			d := make([]float64, r*nr)
			e := make([]float64, r*nr)
			for i := range d {
				d[i] = rng.NormFloat64()
				e[i] = rng.NormFloat64()
			}
			rowG, rowW := make([]float64, r), make([]float64, r)
			colG, colW := make([]float64, nr), make([]float64, nr)
			for i := range r {
				rowG[i], rowW[i] = float64(i), float64(i)
			}
			for c := range nr {
				colG[c], colW[c] = float64(c), float64(c)
			}
			sg, sw := ks.accStrip(r, d, rowG, colG), ref.accStrip(r, d, rowW, colW)
			if !scalar.EqualWithinAbsOrRel(sg, sw, 1e-13, 1e-13) {
				t.Errorf("%s accStrip(rows=%d) = %v, want %v", ks.name, r, sg, sw)
			}
			for i := range rowG {
				if !scalar.EqualWithinAbsOrRel(rowG[i], rowW[i], 1e-13, 1e-13) {
					t.Errorf("%s accStrip(rows=%d) row %d = %v, want %v", ks.name, r, i, rowG[i], rowW[i])
				}
			}
			for c := range colG {
				if !scalar.EqualWithinAbsOrRel(colG[c], colW[c], 1e-13, 1e-13) {
					t.Errorf("%s accStrip(rows=%d) col %d = %v, want %v", ks.name, r, c, colG[c], colW[c])
				}
			}
			if dg, dw := ks.dotStrip(r*nr, d, e), ref.dotStrip(r*nr, d, e); !scalar.EqualWithinAbsOrRel(dg, dw, 1e-13, 1e-13) {
				t.Errorf("%s dotStrip(%d) = %v, want %v", ks.name, r*nr, dg, dw)
			}
		}
	}
}

// TestFusedImplsAgree checks that Compute with every kernel set of this
// CPU gives the state of the pure-Go kernels to 1e-13 of the scale of
// each sum, and that both match the naive sums to 1e-12, on Gram spaces
// mixed with direct ones, diagonal and edge tiles, and every exponent.
func TestFusedImplsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const n = 157
	spaces := []Space{randSpace(rng, n, 64), randSpace(rng, n, 17), randSpace(rng, n, 1), randSpace(rng, n, 5)}
	for _, set := range [][]int{{0}, {0, 1}, {0, 2}, {1, 3, 0}} {
		sp := make([]Space, len(set))
		for i, k := range set {
			sp[i] = spaces[k]
		}
		for _, alpha := range []float64{1, 0.5, 1.5, 2, 0.7} {
			for _, ts := range []int{40, 100} {
				ref, err := computeWith(t.Context(), sp, Options{Exponent: alpha, TileSize: ts, Workers: 2}, kernelAuto, goKernels())
				if err != nil {
					t.Fatal(err)
				}
				shift := make([]float64, len(sp))
				for k := range shift {
					shift[k] = ref.Shift(k)
				}
				want, magS, magRows := naive(sp, alpha, shift, scales(ref))
				name := fmt.Sprintf("spaces=%v/α=%v/tile=%d", set, alpha, ts)
				compareState(t, name+"/go vs naive", ref, want, magS, magRows, 1e-12)
				for _, ks := range kernelSets()[1:] {
					st, err := computeWith(t.Context(), sp, Options{Exponent: alpha, TileSize: ts, Workers: 2}, kernelAuto, ks)
					if err != nil {
						t.Fatal(err)
					}
					compareState(t, name+"/"+ks.name+" vs go", st, ref, magS, magRows, 1e-13)
				}
			}
		}
	}
}

// TestFusedDuplicates checks that duplicated rows far from the origin are
// at distance exactly 0 in the Gram kernel (they would be at about
// 1e-8·|x| without the refinement by direct differences), for every
// kernel set: the state must match the naive one to 1e-12.
func TestFusedDuplicates(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	const n, dim, distinct = 120, 32, 7
	base := randSpace(rng, distinct, dim)
	s := Space{Data: make([]float64, n*dim), Dim: dim}
	for i := range n {
		copy(s.Data[i*dim:(i+1)*dim], base.Data[(i%distinct)*dim:])
	}
	for q := range dim {
		s.Data[(n-1)*dim+q] += 1e3 // a far row shifts the means
	}
	y := randSpace(rng, n, 1)
	for _, ks := range kernelSets() {
		for _, alpha := range []float64{1, 0.5} {
			st, err := computeWith(t.Context(), []Space{s, y}, Options{Exponent: alpha, TileSize: 48}, kernelGram, ks)
			if err != nil {
				t.Fatal(err)
			}
			want, magS, magRows := naive([]Space{s, y}, alpha, []float64{st.Shift(0), st.Shift(1)}, scales(st))
			compareState(t, fmt.Sprintf("%s α=%v", ks.name, alpha), st, want, magS, magRows, 1e-12)
		}
	}
}

// stripJidx returns the jidx of a strip of the epilogue tests: "all" pairs
// valid, "diag" (column c valid for rows i < c, a diagonal tile), or
// "edge" (the last 5 columns outside the tile).
func stripJidx(jmode string) [nr]float64 {
	var jidx [nr]float64
	for c := range nr {
		switch jmode {
		case "all":
			jidx[c] = math.Inf(1)
		case "diag":
			jidx[c] = float64(c)
		case "edge":
			jidx[c] = math.Inf(1)
			if c >= nr-5 {
				jidx[c] = math.Inf(-1)
			}
		}
	}
	return jidx
}

// TestPackKernelsAgree checks that every float64 packing kernel of this
// CPU writes the panels and norms of the naive loop bit for bit: the
// centred rows, zero padding and each norm summed in q order with every
// square rounded, for dims around the 4- and 8-coordinate groups of the
// assembly, partial groups and blocks of rows, and both panel widths.
func TestPackKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for _, dim := range []int{1, 3, 4, 5, 8, 12, 16, 23, 64, 257} {
		s := randSpace(rng, 130, dim)
		for i := range s.Data {
			s.Data[i] = 3 + s.Data[i]*math.Pow(10, float64(rng.IntN(13)-6))
		}
		mu := make([]float64, dim)
		for q := range mu {
			mu[q] = 3 + 0.1*rng.NormFloat64()
		}
		for _, w := range []int{mr, nr} {
			for _, m := range []int{1, 4, 8, 13, 24, 30, 100} {
				const r0 = 7
				nblk := (m + w - 1) / w
				want := make([]float64, nblk*w*dim)
				wantN := make([]float64, nblk*w)
				for i := range nblk * w {
					var sq float64
					for q := range dim {
						var c float64
						if i < m {
							c = s.Data[(r0+i)*dim+q] - mu[q]
						}
						want[i/w*w*dim+q*w+i%w] = c
						sq += float64(c * c)
					}
					wantN[i] = sq
				}
				for _, ks := range kernelSets() {
					got := make([]float64, len(want))
					gotN := make([]float64, len(wantN))
					for i := range got {
						got[i] = math.NaN()
					}
					for i := range gotN {
						gotN[i] = math.NaN()
					}
					ks.pack(got, gotN, s, mu, r0, m, w)
					for i := range got {
						if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
							t.Fatalf("%s pack(dim=%d, w=%d, m=%d)[%d] = %v, want %v", ks.name, dim, w, m, i, got[i], want[i])
						}
					}
					for i := range gotN {
						if math.Float64bits(gotN[i]) != math.Float64bits(wantN[i]) {
							t.Fatalf("%s pack(dim=%d, w=%d, m=%d) norm %d = %v, want %v", ks.name, dim, w, m, i, gotN[i], wantN[i])
						}
					}
				}
			}
		}
	}
}
