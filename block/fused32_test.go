package block

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// Error bounds of Float32 against Float64, documented in Float32 and
// BENCHMARKS.md (measured maxima are logged by the tests below).
const (
	f32BCDCorAbs = 1e-7 // |bcdcor32 − bcdcor64|
	f32DCorRel   = 1e-7 // |dcor32 − dcor64| / dcor64
)

// with32 returns the kernel set ks with the float32 kernels k32.
func with32(ks kernels, k32 kernels32) kernels {
	ks.k32 = &k32
	return ks
}

// TestStrip32KernelsAgree compares each float32 strip kernel of this CPU
// with the pure-Go one: the Gram strips within the rounding of two float32
// sums of dim terms, the epilogue exactly (same float64 operations).
func TestStrip32KernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	ref := goKernels32()
	for _, ks := range kernelSets32() {
		for _, dim := range []int{1, 3, 16, 64, 257} {
			for _, nb := range []int{1, 3} {
				for _, cols := range []int{nr2, 40, 32, 25, 24, 17, 16, 1} {
					a := make([]float32, nb*mr*dim)
					b := make([]float32, nr2*dim)
					for i := range a {
						a[i] = float32(rng.NormFloat64())
					}
					for i := range b {
						b[i] = float32(rng.NormFloat64())
					}
					got := make([]float32, nb*mr*nr2)
					want := make([]float32, nb*mr*nr2)
					ks.gramStrip(dim, nb, cols, a, b, got)
					ref.gramStrip(dim, nb, cols, a, b, want)
					for x := range got {
						t0, r, c := x/(mr*nr2), x/nr2%mr, x%nr2
						if c >= cols {
							continue
						}
						var exact, scale float64
						for q := range dim {
							u, v := float64(a[t0*mr*dim+q*mr+r]), float64(b[q*nr2+c])
							exact += u * v
							scale += math.Abs(u * v)
						}
						tol := float64(dim+1) * 0x1p-24 * scale
						if math.Abs(float64(got[x])-exact) > tol || math.Abs(float64(want[x])-exact) > tol {
							t.Fatalf("%s gramStrip32(dim=%d, nb=%d, cols=%d)[%d] = %v (go %v), exact %v", ks.name, dim, nb, cols, x, got[x], want[x], exact)
						}
					}
				}
			}
		}

		// distStrip32 on the same float32 inner products, duplicated and
		// near-duplicated rows included.
		const rows, dim = 2 * mr, 5
		x := make([][]float64, rows+nr)
		for i := range x {
			x[i] = make([]float64, dim)
			for q := range x[i] {
				x[i][q] = rng.NormFloat64()
			}
		}
		copy(x[rows+3], x[1])
		copy(x[rows+5], x[2])
		x[rows+5][0] += 1e-2
		na, nb := make([]float64, rows), make([]float64, nr)
		g := make([]float32, rows*nr2)
		for i := range rows {
			for q := range dim {
				na[i] += x[i][q] * x[i][q]
			}
			for c := range nr2 {
				var s float32
				for q := range dim {
					s += float32(x[i][q]) * float32(x[rows+c%nr][q])
				}
				g[i*nr2+c] = s
			}
		}
		for c := range nr {
			for q := range dim {
				nb[c] += x[rows+c][q] * x[rows+c][q]
			}
		}
		for _, jmode := range []string{"all", "diag", "edge"} {
			jidx := stripJidx(jmode)
			for mode := modeTwo; mode <= modeThreeHalves; mode++ {
				for _, half := range []int{0, nr} {
					got, want := make([]float64, rows*nr), make([]float64, rows*nr)
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
					ng, sqG, dotG := ks.distStrip(rows, g[half:], got, na, nb, &jidx, 0, 0.75, mode, fg, rsG, colG, other)
					nw, sqW, dotW := ref.distStrip(rows, g[half:], want, na, nb, &jidx, 0, 0.75, mode, fw, rsW, colW, other)
					if other == nil && (dotG != 0 || dotW != 0) {
						t.Errorf("%s distStrip32(%s, mode %d) dot without other = %v (go %v), want 0", ks.name, jmode, mode, dotG, dotW)
					}
					if other != nil {
						if d := dotStripGo(rows*nr, other, want); dotW != d {
							t.Errorf("go distStrip32(%s, mode %d) dot = %v, want dotStrip's %v", jmode, mode, dotW, d)
						}
						if !scalar.EqualWithinAbsOrRel(dotG, dotW, 1e-13, 1e-13) {
							t.Errorf("%s distStrip32(%s, mode %d) dot = %v, want %v", ks.name, jmode, mode, dotG, dotW)
						}
					}
					// The sums of what was written, in the plain order.
					var sq float64
					rs, col := make([]float64, rows), make([]float64, nr)
					absRs, absCol := make([]float64, rows), make([]float64, nr)
					for r := range rows {
						for c := range nr {
							v := want[r*nr+c]
							rs[r] += v
							col[c] += v
							sq += v * v
							absRs[r] += math.Abs(v)
							absCol[c] += math.Abs(v)
						}
					}
					const sumTol = 1e-13 // relative to the sums of |a'|
					if !scalar.EqualWithinAbsOrRel(sqG, sq, sumTol*sq, 0) || !scalar.EqualWithinAbsOrRel(sqW, sq, sumTol*sq, 0) {
						t.Errorf("%s distStrip32(%s, mode %d) sum of squares %v (go %v), want %v", ks.name, jmode, mode, sqG, sqW, sq)
					}
					for r := range rows {
						if !scalar.EqualWithinAbsOrRel(rsG[r], rs[r], sumTol*absRs[r], 0) || !scalar.EqualWithinAbsOrRel(rsW[r], rs[r], sumTol*absRs[r], 0) {
							t.Errorf("%s distStrip32(%s, mode %d) row sum %d = %v (go %v), want %v", ks.name, jmode, mode, r, rsG[r], rsW[r], rs[r])
						}
					}
					for c := range nr {
						if !scalar.EqualWithinAbsOrRel(colG[c], col[c], sumTol*absCol[c], 0) || !scalar.EqualWithinAbsOrRel(colW[c], col[c], sumTol*absCol[c], 0) {
							t.Errorf("%s distStrip32(%s, mode %d) column sum %d = %v (go %v), want %v", ks.name, jmode, mode, c, colG[c], colW[c], col[c])
						}
					}
					if ng != nw || string(fg) != string(fw) {
						t.Errorf("%s distStrip32(%s, mode %d) flags %v (%d), want %v (%d)", ks.name, jmode, mode, fg, ng, fw, nw)
					}
					if jmode == "all" && (fw[1] != 1 || fw[2] != 1) {
						t.Errorf("distStrip32(mode %d) did not flag the (near-)duplicated rows: %v", mode, fw)
					}
					for i := range got {
						if !scalar.EqualWithinAbsOrRel(got[i], want[i], 1e-15, 1e-14) {
							t.Errorf("%s distStrip32(%s, mode %d)[%d] = %v, want %v", ks.name, jmode, mode, i, got[i], want[i])
							break
						}
					}
				}
			}
		}
	}
}

// TestPack32KernelsAgree checks that every float32 packing kernel of this
// CPU writes the same panels and norms as pack32Go, bit for bit, and that
// those are the centred rows rounded to float32, zero padding and the
// float64 norms, for dims around the 8-coordinate blocks, partial blocks
// of rows and both panel widths.
func TestPack32KernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, dim := range []int{1, 5, 8, 16, 23, 64, 257} {
		s := randSpace(rng, 130, dim)
		for i := range s.Data {
			s.Data[i] += 3
		}
		mu := make([]float64, dim)
		for q := range mu {
			mu[q] = 3 + 0.1*rng.NormFloat64()
		}
		for _, w := range []int{mr, nr2} {
			for _, m := range []int{1, 8, 13, 48, 100} {
				const r0 = 7
				nblk := (m + w - 1) / w
				want := make([]float32, nblk*w*dim)
				wantN := make([]float64, nblk*w+1)
				pack32Go(want, wantN, s, mu, r0, m, w)
				for i := range nblk * w {
					var sq float64
					for q := range dim {
						var c float64
						if i < m {
							c = s.Data[(r0+i)*dim+q] - mu[q]
						}
						if got := want[i/w*w*dim+q*w+i%w]; got != float32(c) {
							t.Fatalf("pack32Go(dim=%d, w=%d, m=%d) row %d coordinate %d = %v, want %v", dim, w, m, i, q, got, float32(c))
						}
						sq += c * c
					}
					if !scalar.EqualWithinAbsOrRel(wantN[i], sq, 0, 1e-14) {
						t.Fatalf("pack32Go(dim=%d, w=%d, m=%d) norm %d = %v, want %v", dim, w, m, i, wantN[i], sq)
					}
				}
				for _, ks := range kernelSets32() {
					got := make([]float32, len(want))
					gotN := make([]float64, len(wantN))
					for i := range got {
						got[i] = float32(math.NaN())
					}
					for i := range gotN {
						gotN[i] = math.NaN()
					}
					gotN[len(gotN)-1] = 0
					ks.pack(got, gotN, s, mu, r0, m, w)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s pack32(dim=%d, w=%d, m=%d)[%d] = %v, want %v", ks.name, dim, w, m, i, got[i], want[i])
						}
					}
					for i := range gotN {
						if math.Float64bits(gotN[i]) != math.Float64bits(wantN[i]) {
							t.Fatalf("%s pack32(dim=%d, w=%d, m=%d) norm %d = %v, want %v", ks.name, dim, w, m, i, gotN[i], wantN[i])
						}
					}
				}
			}
		}
	}
}

// synthetic returns x, n×p standard normal, and y = tanh(x·W/√p) + 0.5·e,
// n×q, as bench/genarrow generates them, with the columns of x offset by
// off (data far from the origin, which the centring must absorb).
func synthetic(rng *rand.Rand, n, p, q int, off float64) (Space, Space) {
	x := Space{Data: make([]float64, n*p), Dim: p}
	y := Space{Data: make([]float64, n*q), Dim: q}
	w := make([]float64, p*q)
	for i := range w {
		w[i] = rng.NormFloat64() / math.Sqrt(float64(p))
	}
	for i := range n {
		for c := range p {
			x.Data[i*p+c] = rng.NormFloat64()
		}
		for c := range q {
			var s float64
			for r := range p {
				s += x.Data[i*p+r] * w[r*q+c]
			}
			y.Data[i*q+c] = math.Tanh(s) + 0.5*rng.NormFloat64()
		}
		for c := range p {
			x.Data[i*p+c] += off
		}
	}
	return x, y
}

// errors32 returns |Δbcdcor| and the relative error of dcor of the pair
// (0, 1) of a float32 state against a float64 one.
func errors32(t *testing.T, s32, s64 *estimator.Stats) (bc, dc float64) {
	t.Helper()
	r32, r64 := s32.Pair(0, 1), s64.Pair(0, 1)
	bc = math.Abs(r32.BCDCor - r64.BCDCor)
	dc = math.Abs(r32.DCor - r64.DCor)
	if r64.DCor != 0 {
		dc /= r64.DCor
	}
	return bc, dc
}

// TestFloat32Synthetic measures Float32 against Float64 on the synthetic
// data of bench/genarrow (and the same with x far from the origin, and
// independent y) for p = 16..512 and every exponent, and checks the
// documented bounds.
func TestFloat32Synthetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	n := 1000
	if testing.Short() {
		n = 300
	}
	var maxBC, maxDC float64
	for _, pq := range [][2]int{{16, 16}, {64, 64}, {256, 256}, {512, 32}, {64, 1}} {
		for _, off := range []float64{0, 100} {
			x, y := synthetic(rng, n, pq[0], pq[1], off)
			for _, alpha := range []float64{1, 0.5, 1.5, 2, 0.7} {
				opts := Options{Exponent: alpha, TileSize: 128}
				s64, err := Compute(t.Context(), []Space{x, y}, opts)
				if err != nil {
					t.Fatal(err)
				}
				opts.Precision = Float32
				s32, err := Compute(t.Context(), []Space{x, y}, opts)
				if err != nil {
					t.Fatal(err)
				}
				bc, dc := errors32(t, s32, s64)
				maxBC, maxDC = max(maxBC, bc), max(maxDC, dc)
				name := fmt.Sprintf("p=%d q=%d off=%v α=%v", pq[0], pq[1], off, alpha)
				if bc > f32BCDCorAbs || dc > f32DCorRel {
					t.Errorf("%s: float32 bcdcor error %.3g, dcor relative error %.3g (bcdcor %v)", name, bc, dc, s64.Pair(0, 1).BCDCor)
				}
				if testing.Verbose() && alpha == 1 {
					t.Logf("%s: bcdcor %.6f, |Δbcdcor| %.2g, dcor rel %.2g", name, s64.Pair(0, 1).BCDCor, bc, dc)
				}
			}
		}
	}
	t.Logf("max |Δbcdcor| %.3g, max relative Δdcor %.3g", maxBC, maxDC)
}

type refCase32 struct {
	N      int                 `json:"n"`
	Files  map[string]string   `json:"files"`
	Values map[string]*float64 `json:"values"`
}

func readCSV32(t *testing.T, path string) Space {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	s := Space{Dim: len(recs[0])}
	for _, rec := range recs[1:] {
		for _, v := range rec {
			u, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			s.Data = append(s.Data, u)
		}
	}
	return s
}

// TestFloat32Reference runs the R energy reference cases (testdata/energy;
// all of Dim < 16, so every space is forced through the Gram kernel) in
// Float32 and compares dcor and bcdcor with R's values and with Float64.
func TestFloat32Reference(t *testing.T) {
	dir := filepath.Join("..", "testdata", "energy")
	b, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]refCase32
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	var maxBC, maxDC float64
	for name, c := range cases {
		if c.Files["x"] == "" || c.Files["y"] == "" || c.Values["dcor"] == nil || c.Values["bcdcor"] == nil || c.N < 4 {
			continue
		}
		x, y := readCSV32(t, filepath.Join(dir, c.Files["x"])), readCSV32(t, filepath.Join(dir, c.Files["y"]))
		sp := []Space{x, y}
		s64, err := compute(t.Context(), sp, Options{}, kernelGram)
		if err != nil {
			t.Fatal(err)
		}
		s32, err := compute(t.Context(), sp, Options{Precision: Float32}, kernelGram)
		if err != nil {
			t.Fatal(err)
		}
		r32 := s32.Pair(0, 1)
		bcR := math.Abs(r32.BCDCor - *c.Values["bcdcor"])
		dcR := math.Abs(r32.DCor - *c.Values["dcor"])
		if d := *c.Values["dcor"]; d != 0 {
			dcR /= d
		}
		bc, dc := errors32(t, s32, s64)
		maxBC, maxDC = max(maxBC, bc, bcR), max(maxDC, dc, dcR)
		t.Logf("%s (dims %d, %d): vs R |Δbcdcor| %.2g, dcor rel %.2g; vs float64 %.2g, %.2g", name, x.Dim, y.Dim, bcR, dcR, bc, dc)
		if bcR > f32BCDCorAbs || dcR > f32DCorRel || bc > f32BCDCorAbs || dc > f32DCorRel {
			t.Errorf("%s: float32 off R by %.3g (bcdcor), %.3g (dcor, relative); off float64 by %.3g, %.3g", name, bcR, dcR, bc, dc)
		}
	}
	t.Logf("max |Δbcdcor| %.3g, max relative Δdcor %.3g", maxBC, maxDC)
}

// TestFloat32ImplsAgree checks Compute in Float32 with every float32
// kernel set of this CPU against the pure-Go set, and both against the
// naive float64 sums, within the float32 error of the Gram form, on
// Gram spaces mixed with direct ones, diagonal and edge tiles, every
// exponent and a chunk smaller than the tile.
func TestFloat32ImplsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	const n = 157
	spaces := []Space{randSpace(rng, n, 64), randSpace(rng, n, 17), randSpace(rng, n, 1), randSpace(rng, n, 5)}
	for _, set := range [][]int{{0}, {0, 1}, {0, 2}, {1, 3, 0}} {
		sp := make([]Space, len(set))
		for i, k := range set {
			sp[i] = spaces[k]
		}
		for _, alpha := range []float64{1, 0.5, 1.5, 2, 0.7} {
			for _, ts := range []int{40, 100} {
				opts := Options{Exponent: alpha, TileSize: ts, Workers: 2, Precision: Float32}
				ref, err := computeWith(t.Context(), sp, opts, kernelAuto, with32(goKernels(), goKernels32()))
				if err != nil {
					t.Fatal(err)
				}
				shift := make([]float64, len(sp))
				for k := range shift {
					shift[k] = ref.Shift(k)
				}
				want, magS, magRows := naive(sp, alpha, shift, scales(ref))
				name := fmt.Sprintf("spaces=%v/α=%v/tile=%d", set, alpha, ts)
				compareState(t, name+"/go32 vs naive", ref, want, magS, magRows, 1e-5)
				for _, ks := range kernelSets() {
					for _, k32 := range kernelSets32()[1:] {
						st, err := computeWith(t.Context(), sp, opts, kernelAuto, with32(ks, k32))
						if err != nil {
							t.Fatal(err)
						}
						compareState(t, name+"/"+ks.name+"+"+k32.name+"32 vs go32", st, ref, magS, magRows, 2e-6)
					}
				}
			}
		}
	}
}

// TestFloat32Duplicates checks that duplicated rows are at distance
// exactly 0 in Float32: a space whose rows are all the same (far from the
// rounded mean, so the centred rows are not 0) has dVar exactly 0, and
// duplicated rows mixed with others match the naive sums.
func TestFloat32Duplicates(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	const n, dim = 100, 32
	base := randSpace(rng, 1, dim)
	same := Space{Data: make([]float64, n*dim), Dim: dim}
	for i := range n {
		for q := range dim {
			same.Data[i*dim+q] = 1e3 + base.Data[q]
		}
	}
	y := randSpace(rng, n, 3)
	for _, k32 := range kernelSets32() {
		for _, alpha := range []float64{1, 0.5, 2, 0.7} {
			st, err := computeWith(t.Context(), []Space{same, y}, Options{Exponent: alpha, TileSize: 48, Precision: Float32}, kernelAuto, with32(bestKernels(), k32))
			if err != nil {
				t.Fatal(err)
			}
			r := st.Pair(0, 1)
			if st.S(0, 0) != 0 || st.Shift(0) != 0 || r.DVarXSq != 0 || r.Flags&estimator.ZeroVarX == 0 {
				t.Errorf("%s α=%v: identical rows: S'_00 %v, shift %v, dVar² %v, flags %v", k32.name, alpha, st.S(0, 0), st.Shift(0), r.DVarXSq, r.Flags)
			}
		}
	}

	const distinct = 7
	mixed := Space{Data: make([]float64, 120*dim), Dim: dim}
	for i := range 120 {
		copy(mixed.Data[i*dim:(i+1)*dim], base.Data)
		if i%distinct != 0 {
			for q := range dim {
				mixed.Data[i*dim+q] = rng.NormFloat64() * 0.5
			}
		}
		if i%distinct == 3 {
			copy(mixed.Data[i*dim:(i+1)*dim], mixed.Data[(i-1)*dim:i*dim]) // another duplicate
		}
	}
	for q := range dim {
		mixed.Data[119*dim+q] += 1e3 // a far row shifts the means
	}
	y = randSpace(rng, 120, 1)
	for _, k32 := range kernelSets32() {
		st, err := computeWith(t.Context(), []Space{mixed, y}, Options{TileSize: 48, Precision: Float32}, kernelGram, with32(bestKernels(), k32))
		if err != nil {
			t.Fatal(err)
		}
		want, magS, magRows := naive([]Space{mixed, y}, 1, []float64{st.Shift(0), st.Shift(1)}, scales(st))
		compareState(t, k32.name, st, want, magS, magRows, 1e-5)
	}
}

// TestFloat32WorkersBitIdentical: in Float32 too the state does not depend
// on the worker count, and the out-of-core Plan gives Compute's state.
func TestFloat32WorkersBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(39, 40))
	const n = 400
	spaces := []Space{randSpace(rng, n, 1), randSpace(rng, n, 3), randSpace(rng, n, 20), randSpace(rng, n, 70)}
	for _, alpha := range []float64{1, 0.5} {
		var ref []byte
		for _, w := range []int{1, 2, 3, 7} {
			st, err := Compute(t.Context(), spaces, Options{Exponent: alpha, TileSize: 56, Workers: w, Precision: Float32})
			if err != nil {
				t.Fatal(err)
			}
			b := encode(t, st)
			if ref == nil {
				ref = b
				continue
			}
			if !bytes.Equal(b, ref) {
				t.Errorf("Float32 Compute(Workers=%d, α=%v) differs from Workers=1", w, alpha)
			}
		}
	}
	opts := Options{TileSize: 64, Precision: Float32}
	sp := randomSpaces(rng, 700, 20, 5, 40)
	want, err := Compute(context.Background(), sp, opts)
	if err != nil {
		t.Fatal(err)
	}
	f64, err := Compute(context.Background(), sp, Options{TileSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(encode(t, want), encode(t, f64)) {
		t.Error("Float32 state equals the Float64 one: float32 mode not in effect")
	}
	for _, backward := range []bool{false, true} {
		got := outOfCore(t, sp, opts, 128, 64, 100, backward)
		if !bytes.Equal(encode(t, got), encode(t, want)) {
			t.Errorf("backward=%v: Float32 out-of-core state differs from Compute's", backward)
		}
	}
}

func TestPrecisionOption(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	sp := []Space{randSpace(rng, 10, 20)}
	if _, err := Compute(t.Context(), sp, Options{Precision: 2}); !errors.Is(err, ErrPrecision) {
		t.Errorf("Compute(Precision 2) = %v, want ErrPrecision", err)
	}
	if _, err := Prepare(sp, Options{Precision: -1}); !errors.Is(err, ErrPrecision) {
		t.Errorf("Prepare(Precision -1) = %v, want ErrPrecision", err)
	}
	for _, p := range []Precision{Float64, Float32} {
		if q, err := ParsePrecision(p.String()); err != nil || q != p {
			t.Errorf("ParsePrecision(%q) = %v, %v", p.String(), q, err)
		}
	}
	if _, err := ParsePrecision("float16"); !errors.Is(err, ErrPrecision) {
		t.Errorf("ParsePrecision(float16) = %v, want ErrPrecision", err)
	}
}
