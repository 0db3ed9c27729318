package block

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// The kernel sets must give the same bits, not merely close values: the
// sums of a tile are rounded once onto the fixed-point grids of the state,
// and a shard computed on an AVX2 node, an AVX-512 node or a CPU without
// assembly (another architecture, -tags purego) must merge into the state
// one process computes. Every Go twin of an assembly kernel therefore
// adds in the assembly's order, with math.FMA where it fuses and explicit
// float64() roundings where it does not (Go may fuse x*y + z on arm64,
// ppc64le, s390x and riscv64 otherwise).

// identitySpaces returns the data sets of the identity tests: random
// spaces of several widths and adversarial ones — duplicated rows, rows
// nearly duplicated (relative 1e-7 and 1e-12), integer coordinates
// (ties), data far from the origin, a constant space, and the scales 1e-9
// to 1e6.
func identitySpaces(rng *rand.Rand, n int) map[string][]Space {
	scaled := func(s Space, f float64) Space {
		out := Space{Data: make([]float64, len(s.Data)), Dim: s.Dim}
		for i, v := range s.Data {
			out.Data[i] = v * f
		}
		return out
	}
	dup := func(dim, distinct int, rel float64) Space {
		base := randSpace(rng, distinct, dim)
		s := Space{Data: make([]float64, n*dim), Dim: dim}
		for i := range n {
			row := s.Data[i*dim : (i+1)*dim]
			copy(row, base.Data[(i%distinct)*dim:])
			if rel != 0 && i >= distinct {
				for q := range row {
					row[q] *= 1 + rel*rng.NormFloat64()
				}
			}
		}
		for q := range dim {
			s.Data[(n-1)*dim+q] += 1e3 // a far row shifts the means
		}
		return s
	}
	far := func(dim int) Space {
		s := randSpace(rng, n, dim)
		for i := range s.Data {
			s.Data[i] = 1e6 + 1e-3*s.Data[i]
		}
		return s
	}
	constant := Space{Data: make([]float64, n*20), Dim: 20}
	for i := range constant.Data {
		constant.Data[i] = 3.25
	}
	return map[string][]Space{
		"random/64":         {randSpace(rng, n, 64)},
		"random/64+17":      {randSpace(rng, n, 64), randSpace(rng, n, 17)},
		"random/20+1+5":     {randSpace(rng, n, 20), randSpace(rng, n, 1), randSpace(rng, n, 5)},
		"random/300+16":     {randSpace(rng, n, 300), randSpace(rng, n, 16)},
		"duplicates":        {dup(32, 7, 0), randSpace(rng, n, 3)},
		"near-dup/1e-7":     {dup(24, 5, 1e-7), dup(40, 9, 1e-7)},
		"near-dup/1e-12":    {dup(24, 5, 1e-12), randSpace(rng, n, 18)},
		"integers":          {intSpace(rng, n, 16, 3), intSpace(rng, n, 33, 2), intSpace(rng, n, 1, 4)},
		"far-from-origin":   {far(48), far(2)},
		"constant":          {constant, randSpace(rng, n, 20)},
		"scale/1e-9":        {scaled(randSpace(rng, n, 64), 1e-9), scaled(randSpace(rng, n, 17), 1e-9)},
		"scale/1e6":         {scaled(randSpace(rng, n, 64), 1e6), scaled(randSpace(rng, n, 1), 1e6)},
		"scale/1e-9+1e6":    {scaled(randSpace(rng, n, 32), 1e-9), scaled(randSpace(rng, n, 32), 1e6)},
		"scale/1e-9+dup1e6": {scaled(dup(16, 4, 1e-9), 1e-9), scaled(dup(20, 6, 0), 1e6)},
		// Dim >= depthMin: the Gram by depth blocks (gramDepth), with a
		// last partial block.
		"wide/8196+1030": {randSpace(rng, n, depthMin+4), dup(1030, 11, 1e-7)},
	}
}

// tileBits computes every tile of the grid of spaces (edge tileSize) with
// the kernel set ks (and its float32 set) and returns the bits of the
// shifts and of every tile's sums: S, row sums of I and of J.
func tileBits(spaces []Space, alpha float64, tileSize int, prec Precision, ks kernels) []uint64 {
	n := len(spaces[0].Data) / spaces[0].Dim
	p := newPlanWith(spaces, n, alpha, tileSize, kernelAuto, ks)
	p.prec = prec
	sc := p.newScratch()
	p.setShifts()
	var bits []uint64
	add := func(v ...float64) {
		for _, x := range v {
			bits = append(bits, math.Float64bits(x))
		}
	}
	add(p.shift...)
	s := make([]float64, p.k*(p.k+1)/2)
	rowI, rowJ := make([][]float64, p.k), make([][]float64, p.k)
	for i0 := 0; i0 < n; i0 += tileSize {
		for j0 := i0; j0 < n; j0 += tileSize {
			ni, nj := min(tileSize, n-i0), min(tileSize, n-j0)
			for k := range p.k {
				rowI[k], rowJ[k] = make([]float64, ni), make([]float64, nj)
			}
			p.tile(sc, i0, ni, j0, nj, i0 == j0, p.shift, s, rowI, rowJ)
			add(s...)
			for k := range p.k {
				add(rowI[k]...)
				add(rowJ[k]...)
			}
		}
	}
	return bits
}

// TestKernelSetsBitIdentical runs the portable (pure Go) kernel set and
// the assembly ones of this build (amd64: AVX2 and, where the CPU has it,
// AVX-512; arm64: NEON) side by side on the same tiles of
// random and adversarial data, in float64 and float32 modes, for every
// exponent, and requires the same bits for every shift and every sum of
// every tile.
func TestKernelSetsBitIdentical(t *testing.T) {
	sets, sets32 := kernelSets(), kernelSets32()
	if len(sets) != len(sets32) {
		t.Fatalf("%d float64 kernel sets, %d float32 sets", len(sets), len(sets32))
	}
	names := make([]string, len(sets))
	for i, ks := range sets {
		if ks.name != sets32[i].name {
			t.Fatalf("kernel set %d: float64 %s, float32 %s", i, ks.name, sets32[i].name)
		}
		names[i] = ks.name
	}
	t.Logf("kernel sets of this CPU and build: %v", names)
	t.Run("avx512", func(t *testing.T) {
		if names[len(names)-1] != "avx512" {
			t.Skipf("this CPU (or build) has no AVX-512 kernels: only the sets %v were compared", names)
		}
	})
	if len(sets) == 1 {
		t.Skip("only the portable kernels are built in (-tags purego, amd64 without AVX2+FMA, or neither amd64 nor arm64): nothing to compare them with here")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	data := identitySpaces(rng, 131)
	alphas, tiles := []float64{1, 0.5, 1.5, 2, 0.7}, []int{48, 100}
	if raceOn {
		alphas, tiles = []float64{1, 0.7}, []int{48}
		delete(data, "wide/8196+1030")
	}
	for name, spaces := range data {
		for _, prec := range []Precision{Float64, Float32} {
			for _, alpha := range alphas {
				for _, ts := range tiles {
					label := fmt.Sprintf("%s/%v/α=%v/tile=%d", name, prec, alpha, ts)
					want := tileBits(spaces, alpha, ts, prec, with32(sets[0], sets32[0]))
					for i := 1; i < len(sets); i++ {
						got := tileBits(spaces, alpha, ts, prec, with32(sets[i], sets32[i]))
						if x := firstDiff(got, want); x >= 0 {
							t.Errorf("%s: %s sum %d = %v (%#x), %s gives %v (%#x)", label, sets[i].name, x,
								math.Float64frombits(got[x]), got[x], sets[0].name, math.Float64frombits(want[x]), want[x])
						}
					}
				}
			}
		}
	}
}

func firstDiff(a, b []uint64) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// identityRow returns a row of m values of an adversarial kind.
func identityRow(rng *rand.Rand, kind string, m int) []float64 {
	y := make([]float64, m)
	for j := range y {
		switch kind {
		case "normal":
			y[j] = rng.NormFloat64()
		case "ties":
			y[j] = float64(rng.IntN(3))
		case "near":
			y[j] = 1 + 1e-12*rng.NormFloat64()
		case "tiny":
			y[j] = 1e-9 * rng.NormFloat64()
		case "huge":
			y[j] = 1e6 * rng.NormFloat64()
		}
	}
	return y
}

// TestRowKernelsBitIdentical compares the row kernels (uni1, uni2 and
// directRow: the assembly where this CPU runs it) with their portable
// composition (the Go twins uni1Lanes, … for the columns in multiples of
// 4, the Go kernels for the rest), bit for bit, for every row length up
// to 70 and adversarial rows. absRow and raiseRow work element by element
// with the same operations as their Go versions. With these, a tile of
// the univariate and direct paths gives the same bits on every CPU.
func TestRowKernelsBitIdentical(t *testing.T) {
	if !rowAsm() {
		t.Skip("no assembly row kernels on this CPU or build: the row kernels are their portable twins")
	}
	rng := rand.New(rand.NewPCG(43, 44))
	same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
	for _, kind := range []string{"normal", "ties", "near", "tiny", "huge"} {
		for m := 0; m <= 70; m++ {
			for _, sq := range []bool{false, true} {
				ya, yb := identityRow(rng, kind, m), identityRow(rng, kind, m)
				xa, xb := identityRow(rng, kind, 1)[0], identityRow(rng, kind, 1)[0]
				ca, cb := math.Abs(xa)+0.5, math.Abs(xb)*0.25
				colA, colB := identityRow(rng, "normal", m), identityRow(rng, "normal", m)

				c1, c2 := append([]float64(nil), colA...), append([]float64(nil), colA...)
				r1, s1 := uni1(xa, ya, c1, ca, sq)
				r2, s2 := uni1Portable(xa, ya, c2, ca, sq)
				if !same(r1, r2) || !same(s1, s2) || firstDiff(f64bits(c1), f64bits(c2)) >= 0 {
					t.Errorf("uni1(%s, m=%d, sq=%v) = %v, %v; portable %v, %v", kind, m, sq, r1, s1, r2, s2)
				}

				a1, b1 := append([]float64(nil), colA...), append([]float64(nil), colB...)
				a2, b2 := append([]float64(nil), colA...), append([]float64(nil), colB...)
				var g, w [5]float64
				g[0], g[1], g[2], g[3], g[4] = uni2(xa, xb, ya, yb, a1, b1, ca, cb, sq)
				w[0], w[1], w[2], w[3], w[4] = uni2Portable(xa, xb, ya, yb, a2, b2, ca, cb, sq)
				if firstDiff(f64bits(g[:]), f64bits(w[:])) >= 0 || firstDiff(f64bits(a1), f64bits(a2)) >= 0 || firstDiff(f64bits(b1), f64bits(b2)) >= 0 {
					t.Errorf("uni2(%s, m=%d, sq=%v) = %v; portable %v", kind, m, sq, g, w)
				}
			}
			for _, dim := range []int{1, 2, 3, 5, 8, 15} {
				stride := m + 3
				b := identityRow(rng, kind, dim*stride)
				xi := identityRow(rng, kind, dim)
				d1, d2 := make([]float64, m), make([]float64, m)
				directRow(d1, xi, b, stride, 2)
				directRowPortable(d2, xi, b, stride, 2)
				if x := firstDiff(f64bits(d1), f64bits(d2)); x >= 0 {
					t.Errorf("directRow(%s, m=%d, dim=%d)[%d] = %v; portable %v", kind, m, dim, x, d1[x], d2[x])
				}
			}
		}
	}
}

func f64bits(v []float64) []uint64 {
	b := make([]uint64, len(v))
	for i, x := range v {
		b[i] = math.Float64bits(x)
	}
	return b
}

// uni1Portable, uni2Portable and directRowPortable are uni1, uni2 and
// directRow as a build without assembly composes them.

func uni1Portable(x float64, y, col []float64, c float64, sq bool) (r, s float64) {
	m := len(y) &^ 3
	if m == 0 {
		return uni1Go(x, y, col, c, sq)
	}
	r, s = uni1Lanes(x, y[:m], col[:m], c, sq)
	r1, s1 := uni1Go(x, y[m:], col[m:len(y)], c, sq)
	return r + r1, s + s1
}

func uni2Portable(xa, xb float64, ya, yb, colA, colB []float64, ca, cb float64, sq bool) (ra, rb, saa, sab, sbb float64) {
	n := len(ya)
	m := n &^ 3
	if m == 0 {
		return uni2Go(xa, xb, ya, yb, colA, colB, ca, cb, sq)
	}
	ra, rb, saa, sab, sbb = uni2Lanes(xa, xb, ya[:m], yb[:m], colA[:m], colB[:m], ca, cb, sq)
	ra1, rb1, saa1, sab1, sbb1 := uni2Go(xa, xb, ya[m:], yb[m:n], colA[m:n], colB[m:n], ca, cb, sq)
	return ra + ra1, rb + rb1, saa + saa1, sab + sab1, sbb + sbb1
}

func directRowPortable(d, xi, b []float64, stride, j int) {
	m := len(d) &^ 3
	if m == 0 {
		directRowGo(d, xi, b, stride, j)
		return
	}
	directRowLanes(d[:m], xi, b, stride, j)
	directRowGo(d[m:], xi, b, stride, j+m)
}

// TestFMA32 checks fma32 against x·y + z computed exactly (math/big) and
// rounded once to float32, on random operands and on operands whose
// float64 sum lands on a float32 tie, where rounding twice
// (float32(math.FMA(…))) is wrong.
func TestFMA32(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	exact := func(x, y, z float32) float32 {
		p := new(big.Float).SetPrec(200).SetFloat64(float64(x))
		p.Mul(p, new(big.Float).SetFloat64(float64(y)))
		p.Add(p, new(big.Float).SetFloat64(float64(z)))
		f, _ := p.Float32() // nearest, ties to even
		return f
	}
	twice := 0
	check := func(x, y, z float32) {
		want := exact(x, y, z)
		if got := fma32(x, y, z); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", x, y, z, got, want)
		}
		if float32(math.FMA(float64(x), float64(y), float64(z))) != want {
			twice++
		}
	}
	rounds := 200000
	if raceOn {
		rounds = 20000
	}
	for range rounds {
		x := float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(40)-20)))
		y := float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(40)-20)))
		z := float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(40)-20)))
		check(x, y, z)
		// z = 1 and x·y just off half an ulp of float32 at 1 (2⁻²⁴):
		// the float64 sum is often exactly the float32 tie.
		x = float32(1 + rng.Float64())
		y = float32(math.Exp2(-24) / float64(x))
		for dy := -2; dy <= 2; dy++ {
			yy := math.Float32frombits(uint32(int32(math.Float32bits(y)) + int32(dy)))
			check(x, yy, 1)
			check(-x, yy, -1)
		}
	}
	if twice == 0 {
		t.Errorf("no operands where rounding twice is wrong: the tie cases are not exercised")
	}
	t.Logf("rounding twice would have been wrong in %d cases", twice)
}

// TestGramStripAccBlocks checks that accumulating a strip over blocks of
// the depth (gramStripAcc, as gramDepth does) gives the bits of one pass
// (gramStrip), for every kernel set: depth blocking does not change the
// results.
func TestGramStripAccBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	for _, ks := range kernelSets() {
		for _, dim := range []int{1, 7, 128, 300, 1030} {
			for _, nb := range []int{1, 3} {
				a := make([]float64, nb*mr*dim)
				b := make([]float64, nr*dim)
				for i := range a {
					a[i] = rng.NormFloat64()
				}
				for i := range b {
					b[i] = rng.NormFloat64()
				}
				want := make([]float64, nb*mr*nr)
				ks.gramStrip(dim, nb, a, b, want)
				for _, depth := range []int{1, 5, 128, dim} {
					got := make([]float64, nb*mr*nr)
					for q0 := 0; q0 < dim; q0 += depth {
						ks.gramStripAcc(min(depth, dim-q0), nb, mr*dim, a[q0*mr:], b[q0*nr:], got)
					}
					if x := firstDiff(f64bits(got), f64bits(want)); x >= 0 {
						t.Fatalf("%s: gramStripAcc by %d of dim %d, nb %d: [%d] = %v, gramStrip %v", ks.name, depth, dim, nb, x, got[x], want[x])
					}
				}
			}
		}
	}
}

// TestDepthBlockedNaive checks Compute on spaces computed by depth blocks
// (gramDepth) against the naive sums, on diagonal, inner and
// edge tiles, for every kernel set.
func TestDepthBlockedNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(49, 50))
	n := 97
	if raceOn {
		n = 30
	}
	sp := []Space{randSpace(rng, n, depthMin+100), randSpace(rng, n, 20), randSpace(rng, n, depthMin+depthBlock+3)}
	if p := newPlanWith(sp, n, 1, 40, kernelAuto, goKernels()); !p.depthBlocked(0) || p.depthBlocked(1) || !p.depthBlocked(2) {
		t.Fatalf("depthBlocked = %v, %v, %v; want true, false, true", p.depthBlocked(0), p.depthBlocked(1), p.depthBlocked(2))
	}
	for _, ks := range kernelSets() {
		for _, alpha := range []float64{1, 0.7} {
			st, err := computeWith(t.Context(), sp, Options{Exponent: alpha, TileSize: 40, Workers: 2}, kernelAuto, ks)
			if err != nil {
				t.Fatal(err)
			}
			shift := []float64{st.Shift(0), st.Shift(1), st.Shift(2)}
			want, magS, magRows := naive(sp, alpha, shift, scales(st))
			compareState(t, fmt.Sprintf("%s α=%v", ks.name, alpha), st, want, magS, magRows, 1e-12)
		}
	}
}
