package block

import "math"

// The fused tile kernel.
//
// A tile I×J is cut into strips of nr columns of J. For each strip and
// each space k it computes the shifted distances a'^k_ij of the rows of I
// (or of a chunk of them, see plan.chunk) against the nr columns into a
// small strip buffer (chunk × nr float64, in L1), then folds the buffers
// into the row sums, column sums and product sums of the tile before the
// next strip overwrites them: the TileSize² Gram and distance tiles are
// never written out.
//
// For a Gram space the strip is computed by a register-blocked micro-kernel
// (gramStrip: blocks of mr rows × nr columns of inner products, each row
// panel packed once per tile, centred, in float64) followed by the
// epilogue distStrip, which turns the inner products g_ij into
//
//	d²_ij = |x_i|² + |x_j|² − 2 g_ij,  clamped at 0,
//	a'_ij = (d²_ij)^(α/2) − c_k,       0 for the pairs outside the tile
//
// and flags every row holding a pair with d²_ij < refineTol·(|x_i|²+|x_j|²),
// where the Gram form has cancelled; those rows are recomputed in Go by
// direct differences (refineRow), as in gramRow. For a direct space (Dim
// below gramMinDim) the strip is filled by directRow or absRow.
//
// The strip kernels exist in pure Go (goKernels) and, on amd64 with AVX2
// and FMA, in assembly (asmKernels); plan.kern holds the set in use.

const (
	// mr and nr are the rows and columns of a micro-block of the Gram
	// micro-kernel: with AVX-512, 8×24 float64 accumulators fill 24 of
	// the 32 ZMM registers, leaving 3 for a row of the J panel and some
	// for broadcast elements of the I panel; the AVX2 kernel computes the
	// block as four 4×12 blocks, in 12 of its 16 YMM registers.
	mr = 8
	nr = 24
	// depthBlock is the depth (coordinates) of one pass of the Gram
	// micro-kernel over the strips of a space of Dim >= depthMin: the
	// inner products of a chunk of rows against the whole J panel are
	// accumulated over blocks of depthBlock coordinates (gramDepth), so
	// that a strip of J (nr·depthBlock doubles, 24 KiB) stays in L1 and
	// the chunk's rows (chunk·depthBlock doubles) in L2, where a pass
	// over the whole depth would stream every strip of J from L3 for a
	// few rows. Each inner product is the same chain of FMAs in q order,
	// so the bits do not change.
	//
	// Measured (BenchmarkPeakShare, one core, on a loaded machine): at
	// p = 8,192 (a chunk of 8 rows without blocks) depth blocks raised
	// the kernel from 34–44% to 65–68% of the FMA peak in the same run;
	// at p = 2,048 and 4,096 (chunks of 32 and 16 rows) they cost about
	// 10%, and 5% of the CPU time of a whole run at p = q = 2,048. So
	// only spaces of depthMin dimensions or more are blocked, unless the
	// kernel set says otherwise (kernels.depthMin: the AVX2 set, whose
	// 4×12 sub-blocks stream 12 columns of the strip per pass, blocks
	// from 256 on; see avx2DepthMin).
	depthBlock = 128
	depthMin   = 8192
	// chunkBytes bounds the packed I panels of the Gram spaces that one
	// pass over the strips of a tile streams from L2 (of 1 MiB per core
	// on the development machine; half of it leaves room for the J
	// strips, the strip buffers and the other worker's data in L3).
	chunkBytes = 512 << 10
)

// Epilogue modes: how distStrip raises d² to α/2.
const (
	modeTwo         = iota // d², α = 2 (and the general α, raised afterwards)
	modeOne                // sqrt(d²), α = 1
	modeHalf               // sqrt(sqrt(d²)), α = 0.5
	modeThreeHalves        // r·sqrt(r), r = sqrt(d²), α = 1.5
)

// kernels is one implementation of the strip kernels. Their slices must
// be long enough for the sizes given; the wrappers panic otherwise.
//
//   - gramStrip(dim, nb, a, b, g): for the nb blocks of mr rows of the
//     packed I panel a (block t at a[t·mr·dim:], element (r, q) at
//     q·mr + r) and the packed strip b (element (c, q) at b[q·nr + c]),
//     g[(t·mr + r)·nr + c] = sum_q a_(t,r,q) b_(c,q).
//   - distStrip(rows, g, na, nb, jidx, i0, c, mode, flags, rs, col,
//     other): in place over g[:rows·nr], the epilogue above for row
//     i = i0 + r (as a float64) and column c, valid where i < jidx[c];
//     sets flags[r] to 1 (else 0) for a row with a valid pair that needs
//     refinement and returns their number and, as accStrip on the g it
//     wrote, sum g², with rs[r] = sum_c g_rc and col[c] = sum_r g_rc
//     (overwritten, not added to), and, for other not nil, dotStrip(
//     rows·nr, other, g) (else 0), so that the strip need not be read
//     again when no row is refined (AVX-512 sums while the strip is in
//     registers).
//   - accStrip(rows, d, row, col): row[r] += sum_c d[r·nr+c], col[c] +=
//     sum_r d[r·nr+c], returns sum of d² over d[:rows·nr].
//   - dotStrip(n, a, b): sum_x a[x]·b[x] over x < n, n a multiple of nr.
//   - pack(dst, norms, s, mu, r0, m, w): pack below (w = mr or nr).
type kernels struct {
	name      string
	gramStrip func(dim, nb int, a, b, g []float64)
	// gramStripAcc(dim, nb, lda, a, b, g) is gramStrip with the blocks of
	// a lda doubles apart, adding to g: g[(t·mr + r)·nr + c] = fma chain
	// of a_(t,r,q) b_(c,q), q < dim, starting from g (one depth block).
	gramStripAcc func(dim, nb, lda int, a, b, g []float64)
	distStrip    func(rows int, g, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8, rs, col, other []float64) (int, float64, float64)
	accStrip     func(rows int, d, row, col []float64) float64
	dotStrip     func(n int, a, b []float64) float64
	// kernStrip(d, v, g, ck, cs, mode) sets v to the shifted Gaussian
	// kernel values of the shifted distances d (kernStripGo, rbf.go),
	// len(d) a multiple of 4.
	kernStrip func(d, v []float64, g, ck, cs float64, mode int)
	pack      func(dst, norms []float64, s Space, mu []float64, r0, m, w int)
	// k32, if not nil, replaces bestKernels32 in float32 mode (tests).
	k32 *kernels32
	// depthMin, if not 0, replaces the package's depthMin: the Dim from
	// which a Gram space is computed by depth blocks (gramDepth). It
	// changes the speed only: the FMA chains are the same.
	depthMin int
}

// bestKernels returns the assembly kernels where the CPU runs them, else
// the pure-Go ones.
func bestKernels() kernels {
	if k, ok := asmKernels(); ok {
		return k
	}
	return goKernels()
}

func goKernels() kernels {
	return kernels{
		name:         "go",
		gramStrip:    gramStripGo,
		gramStripAcc: gramStripAccGo,
		distStrip:    distAccStripGo,
		accStrip:     accStripGo,
		dotStrip:     dotStripGo,
		kernStrip:    kernStripGo,
		pack:         pack,
	}
}

// gramStripGo is gramStrip in Go, 4 columns of a block at a time: each
// inner product is accumulated in q order by fused multiply-adds, as the
// assembly does, so that every kernel set gives the same bits.
func gramStripGo(dim, nb int, a, b, g []float64) {
	b = b[:dim*nr]
	g = g[:nb*mr*nr]
	for t := range nb {
		at := a[t*mr*dim : (t+1)*mr*dim]
		for r := range mr {
			out := g[(t*mr+r)*nr : (t*mr+r+1)*nr]
			for c := 0; c < nr; c += 4 {
				var s0, s1, s2, s3 float64
				for q := range dim {
					x := at[q*mr+r]
					bq := b[q*nr+c : q*nr+c+4]
					s0 = math.FMA(x, bq[0], s0)
					s1 = math.FMA(x, bq[1], s1)
					s2 = math.FMA(x, bq[2], s2)
					s3 = math.FMA(x, bq[3], s3)
				}
				out[c], out[c+1], out[c+2], out[c+3] = s0, s1, s2, s3
			}
		}
	}
}

// gramStripAccGo is gramStripAcc in Go: gramStripGo's chains, continued
// from g.
func gramStripAccGo(dim, nb, lda int, a, b, g []float64) {
	b = b[:dim*nr]
	g = g[:nb*mr*nr]
	for t := range nb {
		at := a[t*lda : t*lda+mr*dim]
		for r := range mr {
			out := g[(t*mr+r)*nr : (t*mr+r+1)*nr]
			for c := 0; c < nr; c += 4 {
				s0, s1, s2, s3 := out[c], out[c+1], out[c+2], out[c+3]
				for q := range dim {
					x := at[q*mr+r]
					bq := b[q*nr+c : q*nr+c+4]
					s0 = math.FMA(x, bq[0], s0)
					s1 = math.FMA(x, bq[1], s1)
					s2 = math.FMA(x, bq[2], s2)
					s3 = math.FMA(x, bq[3], s3)
				}
				out[c], out[c+1], out[c+2], out[c+3] = s0, s1, s2, s3
			}
		}
	}
}

// raiseMode returns d2^(α/2) for the modes of distStrip.
func raiseMode(d2 float64, mode int) float64 {
	switch mode {
	case modeOne:
		return math.Sqrt(d2)
	case modeHalf:
		return math.Sqrt(math.Sqrt(d2))
	case modeThreeHalves:
		r := math.Sqrt(d2)
		return float64(r * math.Sqrt(r)) // rounded: never fused with the shift
	}
	return d2
}

func distStripGo(rows int, g, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8) int {
	nb = nb[:nr]
	flags = flags[:rows]
	nflag := 0
	for r := range rows {
		i := i0 + float64(r)
		row := g[r*nr : (r+1)*nr]
		flags[r] = 0
		for col, gv := range row {
			s := na[r] + nb[col]
			v := s - 2*gv
			valid := i < jidx[col]
			if valid && v < refineTol*s {
				flags[r] = 1
			}
			if !valid {
				row[col] = 0
				continue
			}
			row[col] = raiseMode(max(v, 0), mode) - c
		}
		nflag += int(flags[r])
	}
	return nflag
}

// distAccStripGo is kernels.distStrip in Go: distStripGo, then
// accStripGo and dotStripGo over what it wrote.
func distAccStripGo(rows int, g, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8, rs, col, other []float64) (int, float64, float64) {
	n := distStripGo(rows, g, na, nb, jidx, i0, c, mode, flags)
	clear(rs[:max(rows, 0)])
	clear(col[:nr])
	sq := accStripGo(rows, g, rs, col)
	if other == nil {
		return n, sq, 0
	}
	return n, sq, dotStripGo(max(rows, 0)*nr, other, g)
}

// accStripGo is accStrip in Go, in the order of the assembly (accStripAsm,
// and the summing epilogue of distStrip32Asm512): the columns c of a row
// in 4 lanes l = c mod 4, added vector by vector (4 columns at a time),
// then (l0+l2) + (l1+l3); the squares in 8 lanes, c mod 4 for the
// vectors of even c/4 and 4 + c mod 4 for the odd ones, by fused
// multiply-adds in row order, then the 8 lanes added in pairs (j, j+4)
// and as the row sums. The column sums are added in row order.
func accStripGo(rows int, d, row, col []float64) float64 {
	col = col[:nr]
	var sq [8]float64
	for r := range rows {
		v := d[r*nr : (r+1)*nr]
		for c, x := range v {
			col[c] += x
		}
		var t [4]float64
		for l := range 4 {
			t[l] = v[l] + v[4+l]
		}
		for c := 8; c < nr; c += 4 {
			for l := range 4 {
				t[l] += v[c+l]
			}
		}
		row[r] += (t[0] + t[2]) + (t[1] + t[3])
		for c := 0; c < nr; c += 4 {
			h := (c / 4 % 2) * 4
			for l := range 4 {
				sq[h+l] = math.FMA(v[c+l], v[c+l], sq[h+l])
			}
		}
	}
	var u [4]float64
	for l := range 4 {
		u[l] = sq[l] + sq[4+l]
	}
	return (u[0] + u[2]) + (u[1] + u[3])
}

// dotStripGo is dotStrip in Go, in the order of dotStripAsm: x mod 24 in
// one of 24 lanes, by fused multiply-adds in x order; then, for each of
// the 4 lanes l of the 6 vectors A_v (lane 4v + l),
// ((A0+A1) + (A2+A3)) + (A4+A5), and (l0+l2) + (l1+l3).
func dotStripGo(n int, a, b []float64) float64 {
	a, b = a[:n], b[:n]
	var acc [nr]float64
	for x := 0; x < n; x += nr {
		for c := range nr {
			acc[c] = math.FMA(a[x+c], b[x+c], acc[c])
		}
	}
	var l [4]float64
	for j := range 4 {
		l[j] = ((acc[j] + acc[4+j]) + (acc[8+j] + acc[12+j])) + (acc[16+j] + acc[20+j])
	}
	return (l[0] + l[2]) + (l[1] + l[3])
}

// fusedScratch is the part of a worker's scratch used by the fused kernel.
type fusedScratch struct {
	a, b   [][]float64 // per Gram space: packed panels of I and J (float64 mode)
	na, nb [][]float64 // per Gram space: their squared norms, 0 for padding
	d      [][]float64 // per space: the strip buffer, chunk × nr
	col    [][]float64 // per space: column sums of the current strip
	flags  []uint8     // per row of the chunk: needs refinement
	jidx   [nr]float64
	// packedI0, packedNI are the rows packed in a (packedNI = 0: none).
	// Consecutive tiles share their rows I, so a worker mostly packs only
	// the J panels.
	packedI0, packedNI int
	f32                *fused32Scratch // float32 mode, allocated on first use
	// summed[k]: the strip of the Gram space k in d has been summed by
	// the epilogue: sq[k] = sum d², rs[k][r] = sum_c d_rc, and the column
	// sums are in col[k]; dotted[k] (k = 1 of two spaces, float64 mode):
	// and dot[k] = dotStrip of the strips of spaces 0 and k.
	summed, dotted []bool
	sq, dot        []float64
	rs             [][]float64
	// gd: per depth-blocked Gram space (float64 mode), the inner
	// products of a chunk against every strip of J (strip sj at
	// gd[sj·roundUp(chunk, mr)·nr:], rows of nr), accumulated by gramDepth.
	gd [][]float64
}

// depthBlocked reports whether the Gram space k is computed by depth
// blocks (gramDepth).
func (p *plan) depthBlocked(k int) bool {
	from := depthMin
	if p.kern.depthMin > 0 {
		from = p.kern.depthMin
	}
	return p.gram[k] && p.prec != Float32 && p.spaces[k].Dim >= from
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// fusedChunk returns the number of rows of I processed per pass over the
// strips: a multiple of mr whose packed Gram panels fit chunkBytes. It
// depends on the spaces only, never on the kernel set (whose depthMin
// may differ): the tile's sums are added chunk by chunk, so another
// chunk would give other bits.
func (p *plan) fusedChunk() int {
	var dims int
	for k, s := range p.spaces {
		switch {
		case p.gram[k] && p.prec != Float32 && s.Dim >= depthMin:
			dims += depthBlock
		case p.gram[k]:
			dims += s.Dim
		}
	}
	c := p.tileSize
	if dims > 0 {
		c = min(c, chunkBytes/(8*dims))
	}
	return max(mr, c/mr*mr)
}

func (p *plan) newFusedScratch() *fusedScratch {
	t := p.tileSize
	fs := &fusedScratch{
		a:      make([][]float64, p.k),
		b:      make([][]float64, p.k),
		na:     make([][]float64, p.k),
		nb:     make([][]float64, p.k),
		d:      make([][]float64, p.k),
		col:    make([][]float64, p.k),
		flags:  make([]uint8, p.chunk),
		gd:     make([][]float64, p.k),
		summed: make([]bool, p.k),
		dotted: make([]bool, p.k),
		sq:     make([]float64, p.k),
		dot:    make([]float64, p.k),
		rs:     make([][]float64, p.k),
	}
	for k, s := range p.spaces {
		fs.d[k] = make([]float64, roundUp(p.chunk, mr)*nr)
		fs.col[k] = make([]float64, nr)
		if p.gram[k] {
			if p.prec != Float32 { // float32 mode packs into fs.f32
				fs.a[k] = make([]float64, roundUp(t, mr)*s.Dim)
				fs.b[k] = make([]float64, roundUp(t, nr)*s.Dim)
			}
			if p.depthBlocked(k) {
				fs.gd[k] = make([]float64, roundUp(p.chunk, mr)*roundUp(t, nr))
			}
			fs.rs[k] = make([]float64, p.chunk)
			fs.na[k] = make([]float64, roundUp(t, mr))
			fs.nb[k] = make([]float64, roundUp(t, nr))
		}
	}
	return fs
}

// pack copies rows [r0, r0+m) of s, centred by mu, into dst in blocks of
// w rows (block t at dst[t·w·dim:], element (r, q) at q·w + r), padded
// with zero rows to a multiple of w, and their squared norms (summed in q
// order, as in loadRows, each square rounded before it is added) into
// norms. It is kernels.pack in Go; the assembly kernels (packWith) pack
// the same panels and norms.
func pack(dst, norms []float64, s Space, mu []float64, r0, m, w int) {
	packWith(dst, norms, s, mu, r0, m, w, 0, nil)
}

// packWith is pack with rows, if not nil, packing groups of g whole rows
// (g divides w): rows(blk, r, src, mu, dimg, norms) writes the
// coordinates q < dimg = dim − dim mod g > 0 of the g rows of src (block
// offset r) and the sums of their squares in q order into norms[:g]; the
// coordinates from dimg on, and the rows of an incomplete group, are
// packed here, each norm continued in q order.
func packWith(dst, norms []float64, s Space, mu []float64, r0, m, w, g int, rows func(blk []float64, r int, src, mu []float64, dimg int, norms []float64)) {
	dim := s.Dim
	mu = mu[:dim]
	dimg := 0
	if rows != nil {
		dimg = dim - dim%g
	}
	for t := range (m + w - 1) / w {
		blk := dst[t*w*dim : (t+1)*w*dim]
		r := 0
		for ; dimg > 0 && r+g <= w && t*w+r+g <= m; r += g {
			i := t*w + r
			rows(blk, r, s.Data[(r0+i)*dim:(r0+i+g)*dim], mu, dimg, norms[i:i+g])
			for j := i; j < i+g && dimg < dim; j++ {
				sq := norms[j]
				src := s.Data[(r0+j)*dim : (r0+j+1)*dim]
				for q := dimg; q < dim; q++ {
					c := src[q] - mu[q]
					blk[q*w+j-t*w] = c
					sq += float64(c * c)
				}
				norms[j] = sq
			}
		}
		for ; r < w; r++ {
			i := t*w + r
			if i >= m {
				for q := r; q < len(blk); q += w {
					blk[q] = 0
				}
				norms[i] = 0
				continue
			}
			var sq float64
			src := s.Data[(r0+i)*dim : (r0+i+1)*dim]
			for q, v := range src {
				c := v - mu[q]
				blk[q*w+r] = c
				sq += float64(c * c) // rounded: as on amd64 on every CPU
			}
			norms[i] = sq
		}
	}
}

// packMapped is pack for a plan with a row map: rows perm(r0..r0+m) of
// space k, scaled and centred, read in place (no staging copy).
func (p *plan) packMapped(dst, norms []float64, k, r0, m, w int) {
	s := p.spaces[k]
	dim, f, mu := s.Dim, p.scale[k], p.mean[k][:s.Dim]
	if c := p.centredRows; c != nil {
		// Column by column across the w rows of a block: the w rows'
		// cache misses are independent loads, in flight together, and
		// the stores contiguous.
		var at [max(mr, nr)]int
		for t := range (m + w - 1) / w {
			blk := dst[t*w*dim : (t+1)*w*dim]
			rows := min(w, m-t*w)
			for r := range rows {
				g := p.perm(r0 + t*w + r)
				at[r] = g * dim
				norms[t*w+r] = c.norms[g]
			}
			for r := rows; r < w; r++ {
				norms[t*w+r] = 0
			}
			for q := range dim {
				out := blk[q*w : (q+1)*w]
				for r := range rows {
					out[r] = c.rows[at[r]+q]
				}
				clear(out[rows:])
			}
		}
		return
	}
	for t := range (m + w - 1) / w {
		blk := dst[t*w*dim : (t+1)*w*dim]
		for r := range w {
			i := t*w + r
			if i >= m {
				for q := r; q < len(blk); q += w {
					blk[q] = 0
				}
				norms[i] = 0
				continue
			}
			var sq float64
			g := p.perm(r0 + i)
			for q, v := range s.Data[g*dim : (g+1)*dim] {
				c := v*f - mu[q]
				blk[q*w+r] = c
				sq += float64(c * c)
			}
			norms[i] = sq
		}
	}
}

// fusedMode returns the epilogue mode of α and whether the strip must be
// raised to α/2 afterwards (general α).
func (p *plan) fusedMode() (mode int, general bool) {
	switch p.pow {
	case powOne:
		return modeOne, false
	case powHalf:
		return modeHalf, false
	case powThreeHalves:
		return modeThreeHalves, false
	case powTwo:
		return modeTwo, false
	}
	return modeTwo, true
}

// fusedTile is tile (same contract) with the fused kernel. The direct
// spaces use sc.pi (row-major) and sc.pj (transposed) as in tile.
func (p *plan) fusedTile(sc *scratch, i0, ni, j0, nj int, diag bool, shift, s []float64, rowI, rowJ [][]float64) {
	fs := sc.f
	repack := fs.packedI0 != i0 || fs.packedNI != ni
	fs.packedI0, fs.packedNI = i0, ni
	for k := range p.spaces {
		if p.gram[k] && p.prec == Float32 {
			// Float32 is never set for a plan with scaled spaces.
			p.pack32(fs, k, i0, ni, j0, nj, repack)
			continue
		}
		if p.gram[k] && p.perm != nil {
			if repack {
				p.packMapped(fs.a[k], fs.na[k], k, i0, ni, mr)
			}
			p.packMapped(fs.b[k], fs.nb[k], k, j0, nj, nr)
			continue
		}
		spJ, rj := p.rowsOf(sc, 1, k, j0, nj)
		if p.gram[k] {
			if repack {
				spI, ri := p.rowsOf(sc, 0, k, i0, ni)
				p.kern.pack(fs.a[k], fs.na[k], spI, p.mean[k], ri, ni, mr)
			}
			p.kern.pack(fs.b[k], fs.nb[k], spJ, p.mean[k], rj, nj, nr)
			continue
		}
		spI, ri := p.rowsOf(sc, 0, k, i0, ni)
		loadRowsPlain(sc.pi[k], spI, p.mean[k], ri, ni)
		loadCols(sc.pj[k], nil, spJ, p.mean[k], rj, nj)
	}
	clear(s)
	for k := range p.k {
		clear(rowI[k][:ni])
		clear(rowJ[k][:nj])
	}
	mode, general := p.fusedMode()
	strips := (nj + nr - 1) / nr
	for r0 := 0; r0 < ni; r0 += p.chunk {
		rows := min(p.chunk, ni-r0)
		for k := range p.k {
			if p.depthBlocked(k) {
				p.gramDepth(fs, k, r0, rows, nj, diag)
			}
		}
		for sj := range strips {
			c0 := sj * nr
			ncols := min(nr, nj-c0)
			rr := rows
			if diag {
				// Rows i < c0+ncols-1 hold a pair i < j of the strip.
				rr = min(rows, c0+ncols-1-r0)
				if rr <= 0 {
					continue
				}
			}
			for c := range nr {
				switch {
				case c >= ncols:
					fs.jidx[c] = math.Inf(-1)
				case diag:
					fs.jidx[c] = float64(c0 + c)
				default:
					fs.jidx[c] = math.Inf(1)
				}
			}
			for k := range p.k {
				switch {
				case p.gram[k] && p.prec == Float32:
					p.gramStrip32(fs, k, r0, rows, rr, sj, nj, diag, mode, general, shift[k])
				case p.gram[k]:
					p.gramStrip(fs, k, r0, rr, sj, mode, general, shift[k])
				default:
					p.directStrip(sc, k, r0, rr, c0, ncols, nj, diag, shift[k])
				}
			}
			if sc.jack != nil {
				p.jackStrip(sc, r0, rr, c0, ncols)
				continue
			}
			if sc.capture != nil {
				for r := range rr {
					copy(sc.capture[(r0+r)*nj+c0:(r0+r)*nj+c0+ncols], fs.d[0][r*nr:r*nr+ncols])
				}
				continue
			}
			if sc.against != nil {
				for r := range rr {
					sc.dotSum += dot(fs.d[0][r*nr:r*nr+ncols], sc.against[(r0+r)*nj+c0:(r0+r)*nj+c0+ncols])
				}
				continue
			}
			if sc.ks != nil {
				p.rbfStrip(sc, r0, rr, c0, ncols, diag)
			}
			q := 0 // PairIndex(K, k, l)
			for k := range p.k {
				col := fs.col[k]
				if p.gram[k] && fs.summed[k] {
					// Summed by the epilogue (see gramStrip).
					s[q] += fs.sq[k]
					ri := rowI[k][r0 : r0+rr]
					for r, v := range fs.rs[k][:rr] {
						ri[r] += v
					}
				} else {
					clear(col)
					s[q] += p.kern.accStrip(rr, fs.d[k], rowI[k][r0:r0+rr], col)
				}
				q++
				for l := k + 1; l < p.k; l++ {
					if p.gram[l] && fs.dotted[l] {
						s[q] += fs.dot[l] // k = 0, l = 1: see gramStrip
					} else {
						s[q] += p.kern.dotStrip(rr*nr, fs.d[k], fs.d[l])
					}
					q++
				}
				for c, v := range col[:ncols] {
					rowJ[k][c0+c] += v
				}
			}
		}
	}
	for q := range s {
		s[q] *= 2
	}
	if diag {
		for k := range p.k {
			ri, rj := rowI[k][:ni], rowJ[k][:ni]
			for i := range ri {
				ri[i] += rj[i]
			}
		}
	}
}

// gramStrip fills fs.d[k] with the shifted distances of the rows
// [r0, r0+rr) of I against the strip sj of J of the Gram space k.
func (p *plan) gramStrip(fs *fusedScratch, k, r0, rr, sj, mode int, general bool, c float64) {
	dim := p.spaces[k].Dim
	d := fs.d[k]
	a := fs.a[k][r0*dim:]
	b := fs.b[k][sj*nr*dim : (sj+1)*nr*dim]
	na, nb := fs.na[k][r0:], fs.nb[k][sj*nr:(sj+1)*nr]
	cc := c
	if general {
		cc = 0
	}
	if p.depthBlocked(k) {
		cr := roundUp(p.chunk, mr)
		copy(d[:rr*nr], fs.gd[k][sj*cr*nr:])
	} else {
		p.kern.gramStrip(dim, (rr+mr-1)/mr, a, b, d)
	}
	// With two spaces, the epilogue of space 1 also sums its products
	// with the strip of space 0, final by then (computed, refined and
	// raised before it).
	var other []float64
	if k == 1 && p.k == 2 && !general {
		other = fs.d[0]
	}
	nflag, sq, dot := p.kern.distStrip(rr, d, na, nb, &fs.jidx, float64(r0), cc, mode, fs.flags, fs.rs[k], fs.col[k], other)
	fs.summed[k], fs.sq[k] = nflag == 0 && !general, sq
	fs.dotted[k], fs.dot[k] = fs.summed[k] && other != nil, dot
	if nflag > 0 {
		for r, f := range fs.flags[:rr] {
			if f != 0 {
				refineRow(d[r*nr:(r+1)*nr], a, b, na[r], nb, r, dim, &fs.jidx, float64(r0+r), cc, mode)
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

// gramDepth fills fs.gd[k] with the inner products of the rows
// [r0, r0+rows) of I against every strip of J (the rows each strip
// needs, as fusedTile computes them) of the Gram space k, by blocks of
// depthBlock coordinates: for each block, every strip, so that the
// block of a strip stays in L1 and the chunk's block in L2.
func (p *plan) gramDepth(fs *fusedScratch, k, r0, rows, nj int, diag bool) {
	dim := p.spaces[k].Dim
	cr := roundUp(p.chunk, mr)
	strips := (nj + nr - 1) / nr
	a, b, gd := fs.a[k][r0*dim:], fs.b[k], fs.gd[k]
	need := func(sj int) int { // blocks of mr rows strip sj needs
		rr := rows
		if diag {
			rr = min(rows, min(nr, nj-sj*nr)+sj*nr-1-r0)
		}
		return (max(rr, 0) + mr - 1) / mr
	}
	for sj := range strips {
		clear(gd[sj*cr*nr : sj*cr*nr+need(sj)*mr*nr])
	}
	for q0 := 0; q0 < dim; q0 += depthBlock {
		dq := min(depthBlock, dim-q0)
		for sj := range strips {
			if nb := need(sj); nb > 0 {
				p.kern.gramStripAcc(dq, nb, mr*dim, a[q0*mr:], b[sj*nr*dim+q0*nr:], gd[sj*cr*nr:])
			}
		}
	}
}

// refineRow recomputes the row r of a strip (see distStrip) in Go, from
// the packed panels: the Gram form where it has not cancelled, else
// direct differences, as gramRow does.
func refineRow(out, a, b []float64, na float64, nb []float64, r, dim int, jidx *[nr]float64, i, c float64, mode int) {
	blk := a[r/mr*mr*dim:]
	rr := r % mr
	for col := range nr {
		if !(i < jidx[col]) {
			out[col] = 0
			continue
		}
		var g float64
		for q := range dim {
			g += float64(blk[q*mr+rr] * b[q*nr+col]) // never fused, on any CPU
		}
		s := na + nb[col]
		v := s - 2*g
		if v < refineTol*s {
			v = 0
			for q := range dim {
				t := blk[q*mr+rr] - b[q*nr+col]
				v += float64(t * t)
			}
		}
		out[col] = raiseMode(max(v, 0), mode) - c
	}
}

// directStrip fills fs.d[k] with the shifted distances of the rows
// [r0, r0+rr) of I against the columns [c0, c0+ncols) of J of the direct
// space k, 0 outside the tile.
func (p *plan) directStrip(sc *scratch, k, r0, rr, c0, ncols, nj int, diag bool, c float64) {
	fs := sc.f
	dim := p.spaces[k].Dim
	d := fs.d[k]
	b := sc.pj[k]
	for r := range rr {
		i := r0 + r
		row := d[r*nr : (r+1)*nr]
		lo := 0
		if diag {
			lo = max(0, min(ncols, i+1-c0)) // columns j <= i are outside
		}
		clear(row[:lo])
		clear(row[ncols:])
		out := row[lo:ncols]
		if len(out) == 0 {
			continue
		}
		if dim == 1 {
			p.absRow(out, sc.pi[k][i], b[c0+lo:c0+ncols], c)
			continue
		}
		directRow(out, sc.pi[k][i*dim:(i+1)*dim], b, nj, c0+lo)
		p.raise(out, c)
	}
}

// loadRowsPlain copies rows [r0, r0+m) of s, centred by mu, into dst
// row-major.
func loadRowsPlain(dst []float64, s Space, mu []float64, r0, m int) {
	dim := s.Dim
	for i := range m {
		out := dst[i*dim : (i+1)*dim]
		for q, v := range s.Data[(r0+i)*dim : (r0+i+1)*dim] {
			out[q] = v - mu[q]
		}
	}
}
