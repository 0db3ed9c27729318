package block

import (
	"errors"
	"fmt"
	"math"
)

// The float32 mode of the fused Gram path (Options.Precision = Float32).
//
// Only the inner products of the Gram spaces change: the rows are centred
// in float64 exactly as in float64 mode (pack), then rounded to float32
// into the packed panels, and the micro-kernel accumulates x_i·x_j in
// float32 (AVX-512: 16 lanes per ZMM; AVX2: 8 per YMM; Go elsewhere). The
// squared norms stay float64 (from the float64-centred rows, as in
// float64 mode), and the epilogue distStrip32 converts each inner product
// to float64 and does everything else in float64:
//
//	d²_ij = |x_i|² + |x_j|² − 2 g_ij,  clamped to [0, 2(|x_i|²+|x_j|²)],
//	a'_ij = (d²_ij)^(α/2) − c_k
//
// The upper clamp is exact arithmetic ((|x|+|y|)² <= 2(|x|²+|y|²)), and
// keeps every distance below 2R_k, the diameter the bounds of the state
// assume, whatever the float32 rounding.
//
// Pairs where the float32 Gram form cancels, d² < refineTol32·(|x_i|²+|x_j|²),
// are recomputed by direct differences in float64 from the source rows
// (refineRow32), so duplicated rows are at exactly 0 distance.
//
// Why refineTol32 = 1e-3: the float32 inner product of the rounded rows is
// off by about u·sqrt(dim)·|x_i||x_j| (u = 2⁻²⁴ ≈ 6e-8; at worst u·dim),
// so the Gram form's d² carries an absolute error of about
// 2u·sqrt(dim)·|x_i||x_j| <= u·sqrt(dim)·(|x_i|²+|x_j|²). Above the
// threshold its relative error is at most about u·sqrt(dim)/1e-3 =
// 6e-5·sqrt(dim) (1e-3 at dim 256, 3e-3 at dim 2048), and only in the
// rare pairs close to the threshold: typical pairs of centred data have
// d² of the order of |x_i|²+|x_j|², with a relative error of about
// u·sqrt(dim). Below it, d² would keep fewer than about 3 of float32's 7
// digits (1e-3 ≈ 1e4·u; float64's refineTol = 1e-6 is the same rule,
// 1e10·u at u = 1.1e-16, which keeps 6). A larger threshold would refine
// more pairs (in Go, dim flops each) for a gain confined to
// near-duplicates; the errors measured on the statistics (bcdcor within
// 1e-8, see fused32_test.go and BENCHMARKS.md) are far below this
// per-pair bound, because the rounding errors of the pairs average out.
//
// Range: the float32 products overflow for centred coordinates beyond
// about 1e19 in magnitude and lose precision to underflow below about
// 1e-19; Float32 is meant for data within those (float64 handles any
// finite data).
const refineTol32 = 1e-3

// nr2 is the column count of the float32 micro-kernel: a double strip of
// 2·nr columns, so that 8 rows × 48 columns of float32 fill 24 ZMM (or
// four 4×24 blocks of 12 YMM), the layout of the float64 kernel.
const nr2 = 2 * nr

// Precision selects the floating-point format of the Gram inner products
// of the fused path (spaces of Dim >= 16). See Options.Precision.
type Precision int

const (
	// Float64 computes everything in float64: the default and the
	// reference.
	Float64 Precision = iota
	// Float32 computes the inner products x_i·x_j of the Gram spaces
	// (Dim >= 16) in float32, from rows centred in float64; norms,
	// distances, refinement and every sum stay float64. The direct and
	// univariate paths (Dim < 16) are float64 in either mode.
	Float32
)

// ErrPrecision is returned for an Options.Precision that is neither Float64
// nor Float32.
var ErrPrecision = errors.New("block: unknown precision")

func (p Precision) String() string {
	switch p {
	case Float64:
		return "float64"
	case Float32:
		return "float32"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision returns the Precision named "float64" or "float32".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "float64":
		return Float64, nil
	case "float32":
		return Float32, nil
	}
	return 0, fmt.Errorf("precision %q (want float64 or float32): %w", s, ErrPrecision)
}

func (p Precision) valid() error {
	if p != Float64 && p != Float32 {
		return fmt.Errorf("%v: %w", p, ErrPrecision)
	}
	return nil
}

// kernels32 is one implementation of the float32 strip kernels.
//
//   - gramStrip(dim, nb, cols, a, b, g): for the nb blocks of mr rows of
//     the packed float32 I panel a (as in kernels.gramStrip) and the
//     packed float32 double strip b (element (c, q) at b[q·nr2 + c]),
//     g[(t·mr + r)·nr2 + c] = sum_q a_(t,r,q) b_(c,q), in float32, for
//     the columns c < cols at least (1 <= cols <= nr2; the last double
//     strip of a tile may hold fewer than nr2 columns). The other columns
//     of g may be left as they were.
//   - distStrip(rows, g, d, na, nb, jidx, i0, c, mode, flags, rs, col):
//     the epilogue of kernels.distStrip with refineTol32 and the clamp
//     above, reading the float32 inner products of row r at
//     g[r·nr2:][:nr] and writing the float64 distances of row r to
//     d[r·nr:][:nr]; it returns the number of flagged rows and, as
//     kernels.accStrip on the d it wrote, sum d², with rs[r] = sum_c d_rc
//     and col[c] = sum_r d_rc (overwritten, not added to), and for other
//     not nil dotStrip(rows·nr, other, d) (else 0), so that the strip
//     need not be read again when no row is refined.
//   - pack(dst, norms, s, mu, r0, m, w): pack32 below, w a multiple of 8.
type kernels32 struct {
	name      string
	gramStrip func(dim, nb, cols int, a, b, g []float32)
	distStrip func(rows int, g []float32, d, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8, rs, col, other []float64) (int, float64, float64)
	pack      func(dst []float32, norms []float64, s Space, mu []float64, r0, m, w int)
}

// bestKernels32 returns the assembly float32 kernels where the CPU runs
// them, else the pure-Go ones.
func bestKernels32() kernels32 {
	if k, ok := asmKernels32(); ok {
		return k
	}
	return goKernels32()
}

func goKernels32() kernels32 {
	return kernels32{name: "go", gramStrip: gramStrip32Go, distStrip: distAccStrip32Go, pack: pack32Go}
}

// distAccStrip32Go is kernels32.distStrip in Go: distStrip32Go, then
// accStripGo and dotStripGo over what it wrote.
func distAccStrip32Go(rows int, g []float32, d, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8, rs, col, other []float64) (int, float64, float64) {
	n := distStrip32Go(rows, g, d, na, nb, jidx, i0, c, mode, flags)
	clear(rs[:rows])
	clear(col[:nr])
	sq := accStripGo(rows, d, rs, col)
	if other == nil {
		return n, sq, 0
	}
	return n, sq, dotStripGo(max(rows, 0)*nr, other, d)
}

// gramStrip32Go is kernels32.gramStrip in Go, 4 columns at a time: each
// inner product is accumulated in q order by float32 fused multiply-adds
// (fma32), as the assembly does, so that every kernel set gives the same
// bits.
func gramStrip32Go(dim, nb, cols int, a, b, g []float32) {
	b = b[:dim*nr2]
	g = g[:nb*mr*nr2]
	cols = min(nr2, roundUp(cols, 4))
	for t := range nb {
		at := a[t*mr*dim : (t+1)*mr*dim]
		for r := range mr {
			out := g[(t*mr+r)*nr2 : (t*mr+r+1)*nr2]
			for c := 0; c < cols; c += 4 {
				var s0, s1, s2, s3 float32
				for q := range dim {
					x := at[q*mr+r]
					bq := b[q*nr2+c : q*nr2+c+4]
					// s_l = fma32(x, bq[l], s_l), by hand (fma32 is too
					// large for the inliner): rounded once from the
					// float64 sum unless one of them is a tie.
					xd := float64(x)
					v0 := xd*float64(bq[0]) + float64(s0)
					v1 := xd*float64(bq[1]) + float64(s1)
					v2 := xd*float64(bq[2]) + float64(s2)
					v3 := xd*float64(bq[3]) + float64(s3)
					if tie32(v0) || tie32(v1) || tie32(v2) || tie32(v3) {
						s0, s1, s2, s3 = fma32(x, bq[0], s0), fma32(x, bq[1], s1), fma32(x, bq[2], s2), fma32(x, bq[3], s3)
					} else {
						s0, s1, s2, s3 = float32(v0), float32(v1), float32(v2), float32(v3)
					}
				}
				out[c], out[c+1], out[c+2], out[c+3] = s0, s1, s2, s3
			}
		}
	}
}

// fma32 returns x·y + z rounded once to float32 (round to nearest even),
// what VFMADD231PS computes. The product is exact in float64 (24 + 24
// bits), so the only error of float32(p + z), computed in float64, is a
// double rounding, which can only be wrong where the float64 sum lands
// exactly on a float32 tie (or among float32 subnormals): there fma32Odd
// rounds the sum to odd instead.
func fma32(x, y, z float32) float32 {
	// Exact product: fused into the sum or not, s is the same.
	s := float64(x)*float64(y) + float64(z)
	if tie32(s) {
		return fma32Odd(x, y, z, s)
	}
	return float32(s)
}

// tie32 reports whether float32(s) may round s wrongly as the float64
// rounding of a sum: s is a tie between two float32 (its last 29 bits are
// 1 followed by zeros) or below the normal float32 range.
func tie32(s float64) bool {
	return math.Float64bits(s)&(1<<29-1) == 1<<28 || math.Abs(s) < 0x1p-126
}

// fma32Odd returns float32 of p + w = x·y + z (s, rounded to nearest) rounded to odd
// first (Boldo and Melquiond, "Emulation of FMA and correctly rounded
// sums: proved algorithms using rounding to odd", IEEE Trans. Computers
// 2008): where the sum is inexact, the neighbour of s with an odd last
// bit. Rounding to odd on 53 >= 24 + 2 bits, then to nearest, gives the
// correctly rounded result.
// (Not inlined: the rare path, so that fma32 is inlined.)
//
//go:noinline
func fma32Odd(x, y, z float32, s float64) float32 {
	p, w := float64(float64(x)*float64(y)), float64(z)
	// TwoSum (Knuth): e = p + w - s exactly.
	bv := s - p
	e := (p - (s - bv)) + (w - bv)
	if b := math.Float64bits(s); e != 0 && b&1 == 0 {
		// s is the even neighbour of p + w: take the odd one, on the side
		// of e (away from zero if e has the sign of s).
		if (e > 0) == (s > 0) {
			b++
		} else {
			b--
		}
		s = math.Float64frombits(b)
	}
	return float32(s)
}

func distStrip32Go(rows int, g []float32, d, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8) int {
	nb = nb[:nr]
	flags = flags[:rows]
	nflag := 0
	for r := range rows {
		i := i0 + float64(r)
		gr := g[r*nr2 : r*nr2+nr]
		out := d[r*nr : (r+1)*nr]
		flags[r] = 0
		for col, gv := range gr {
			if !(i < jidx[col]) {
				out[col] = 0
				continue
			}
			s := na[r] + nb[col]
			v := s - 2*float64(gv)
			if v < refineTol32*s {
				flags[r] = 1
			}
			out[col] = raiseMode(min(max(v, 0), 2*s), mode) - c
		}
		nflag += int(flags[r])
	}
	return nflag
}

// fused32Scratch is the part of a worker's scratch used in float32 mode.
type fused32Scratch struct {
	a, b [][]float32 // per Gram space: packed float32 panels of I and J
	g    [][]float32 // per Gram space: inner products of a double strip
	// pair, pairR0: the double strip and first row held in g (pair -1:
	// none, set when a tile packs its J panel).
	pair, pairR0 []int
	i0, j0       int       // the tile's first rows, for refineRow32
	xi           []float64 // a centred row of I
}

func (p *plan) newFused32Scratch() *fused32Scratch {
	t := p.tileSize
	f := &fused32Scratch{
		a:      make([][]float32, p.k),
		b:      make([][]float32, p.k),
		g:      make([][]float32, p.k),
		pair:   make([]int, p.k),
		pairR0: make([]int, p.k),
	}
	maxDim := 0
	for k, s := range p.spaces {
		f.pair[k] = -1
		if p.gram[k] {
			f.a[k] = make([]float32, roundUp(t, mr)*s.Dim)
			f.b[k] = make([]float32, roundUp(t, nr2)*s.Dim)
			f.g[k] = make([]float32, roundUp(p.chunk, mr)*nr2)
			maxDim = max(maxDim, s.Dim)
		}
	}
	f.xi = make([]float64, maxDim)
	return f
}

// kernels32 returns the float32 kernels of the plan: those attached to its
// kernel set (tests), else the best of this CPU.
func (p *plan) kernels32() kernels32 {
	if p.kern.k32 != nil {
		return *p.kern.k32
	}
	return bestKernels32()
}

// pack32 packs the Gram space k of a tile in float32 mode: the rows I
// (if repack) and J centred in float64, rounded to float32, with their
// float64 squared norms in fs.na[k] and fs.nb[k] (as pack computes them).
func (p *plan) pack32(fs *fusedScratch, k, i0, ni, j0, nj int, repack bool) {
	if fs.f32 == nil {
		fs.f32 = p.newFused32Scratch()
	}
	f := fs.f32
	f.i0, f.j0 = i0, j0
	f.pair[k] = -1
	s := p.spaces[k]
	pack := p.kernels32().pack
	if repack {
		pack(f.a[k], fs.na[k], s, p.mean[k], i0, ni, mr)
	}
	pack(f.b[k], fs.nb[k], s, p.mean[k], j0, nj, nr2)
}

// pack32Go is pack into a float32 panel (kernels32.pack in Go): rows
// [r0, r0+m) of s, centred by mu in float64 and rounded to float32, into
// dst in blocks of w rows (block t at dst[t·w·dim:], element (r, q) at
// q·w + r; w a multiple of 8), padded with zero rows, and their squared
// norms, summed in float64 from the centred (unrounded) coordinates, into
// norms. Norms of padding rows are 0 up to the end of norms or of the last
// block, whichever comes first.
//
// The norm of a row is summed in the order of the assembly kernels: eight
// partial sums l_j of the squares of the coordinates q ≡ j (mod 8) below
// dim8 = dim − dim mod 8, in q order, then
//
//	((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)) + c²_dim8 + … + c²_(dim−1)
//
// (it differs from maxNorm2's order by rounding far below boundMargin),
// so that every kernel set packs the same panels and norms.
func pack32Go(dst []float32, norms []float64, s Space, mu []float64, r0, m, w int) {
	pack32With(dst, norms, s, mu, r0, m, w, nil)
}

// pack32With is pack32Go with rows8, if not nil, packing groups of 8 whole
// rows (block offset r, rows i..i+7, the coordinates below dim8 > 0, their
// norms in that order); the rest is done in Go.
func pack32With(dst []float32, norms []float64, s Space, mu []float64, r0, m, w int, rows8 func(blk []float32, r int, src []float64, mu []float64, dim8 int, norms []float64)) {
	dim := s.Dim
	dim8 := dim &^ 7
	mu = mu[:dim]
	for t := range (m + w - 1) / w {
		blk := dst[t*w*dim : (t+1)*w*dim]
		for r8 := 0; r8 < w; r8 += 8 {
			i8 := t*w + r8
			if rows8 != nil && dim8 > 0 && i8+8 <= m {
				rows8(blk, r8, s.Data[(r0+i8)*dim:(r0+i8+8)*dim], mu, dim8, norms[i8:i8+8])
				for r := r8; r < r8+8; r++ {
					i := t*w + r
					src := s.Data[(r0+i)*dim : (r0+i+1)*dim]
					sq := norms[i]
					for q := dim8; q < dim; q++ {
						c := src[q] - mu[q]
						blk[q*w+r] = float32(c)
						sq += float64(c * c)
					}
					norms[i] = sq
				}
				continue
			}
			for r := r8; r < r8+8; r++ {
				i := t*w + r
				if i >= m {
					for q := r; q < len(blk); q += w {
						blk[q] = 0
					}
					if i < len(norms) {
						norms[i] = 0
					}
					continue
				}
				var l [8]float64
				src := s.Data[(r0+i)*dim : (r0+i+1)*dim]
				for q0 := 0; q0 < dim8; q0 += 8 {
					for j := range 8 {
						c := src[q0+j] - mu[q0+j]
						blk[(q0+j)*w+r] = float32(c)
						l[j] += float64(c * c) // rounded, as VMULPD then VADDPD
					}
				}
				sq := ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
				for q := dim8; q < dim; q++ {
					c := src[q] - mu[q]
					blk[q*w+r] = float32(c)
					sq += float64(c * c)
				}
				norms[i] = sq
			}
		}
	}
}

// gramStrip32 is gramStrip in float32 mode: it fills fs.d[k] with the
// shifted distances of the rows [r0, r0+rr) of I against the strip sj of
// J of the Gram space k. rows is the chunk's row count, nj and diag those
// of the tile: the inner products are computed for the double strip sj/2
// at once, for every row of the chunk either of its strips needs, and
// kept for the other strip.
func (p *plan) gramStrip32(fs *fusedScratch, k, r0, rows, rr, sj, nj int, diag bool, mode int, general bool, c float64) {
	f := fs.f32
	k32 := p.kernels32()
	dim := p.spaces[k].Dim
	pair := sj / 2
	if f.pair[k] != pair || f.pairR0[k] != r0 {
		need := rows
		if diag {
			// Rows i < the last column of the double strip.
			need = min(rows, min(nj, (pair+1)*nr2)-1-r0)
		}
		k32.gramStrip(dim, (need+mr-1)/mr, min(nr2, nj-pair*nr2), f.a[k][r0*dim:], f.b[k][pair*nr2*dim:(pair+1)*nr2*dim], f.g[k])
		f.pair[k], f.pairR0[k] = pair, r0
	}
	g := f.g[k][(sj%2)*nr:]
	d := fs.d[k]
	na, nb := fs.na[k][r0:], fs.nb[k][sj*nr:(sj+1)*nr]
	cc := c
	if general {
		cc = 0
	}
	var other []float64 // as in gramStrip
	if k == 1 && p.k == 2 && !general {
		other = fs.d[0]
	}
	nflag, sq, dot := k32.distStrip(rr, g, d, na, nb, &fs.jidx, float64(r0), cc, mode, fs.flags, fs.rs[k], fs.col[k], other)
	fs.summed[k], fs.sq[k] = nflag == 0 && !general, sq
	fs.dotted[k], fs.dot[k] = fs.summed[k] && other != nil, dot
	if nflag > 0 {
		s := p.spaces[k]
		for r, fl := range fs.flags[:rr] {
			if fl != 0 {
				p.refineRow32(f, s, p.mean[k], d[r*nr:(r+1)*nr], g[r*nr2:r*nr2+nr], na[r], nb, f.i0+r0+r, f.j0+sj*nr, &fs.jidx, float64(r0+r), cc, mode)
			}
		}
	}
	if general {
		e := p.alpha / 2
		for r := range rr {
			i := float64(r0 + r)
			row := d[r*nr : (r+1)*nr]
			for col, v := range row {
				if i < fs.jidx[col] {
					row[col] = math.Exp(e*math.Log(v)) - c // as in raise
				}
			}
		}
	}
}

// refineRow32 recomputes the row of a strip of row gi of s against the
// columns gj, gj+1, … (rows of s): the float64 Gram form of the float32
// inner products g as distStrip32 computes it where it has not cancelled,
// else the float64 direct differences of the centred rows.
func (p *plan) refineRow32(f *fused32Scratch, s Space, mu []float64, out []float64, g []float32, na float64, nb []float64, gi, gj int, jidx *[nr]float64, i, c float64, mode int) {
	dim := s.Dim
	xi := f.xi[:dim]
	for q, v := range s.Data[gi*dim : (gi+1)*dim] {
		xi[q] = v - mu[q]
	}
	for col := range nr {
		if !(i < jidx[col]) {
			out[col] = 0
			continue
		}
		sum := na + nb[col]
		v := sum - 2*float64(g[col])
		if v < refineTol32*sum {
			v = 0
			xj := s.Data[(gj+col)*dim : (gj+col+1)*dim]
			for q, x := range xi {
				t := x - (xj[q] - mu[q])
				v += float64(t * t) // never fused, on any CPU
			}
		}
		out[col] = raiseMode(min(max(v, 0), 2*sum), mode) - c
	}
}
