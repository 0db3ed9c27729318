package block

import (
	"context"
	"fmt"
	"math"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// PermPass is the permutation test of Permutations as a pass of a Plan:
// the sums of the tiles of the grid added to a PermutationTest tile by
// tile, x's rows taken from the rows of each call (in memory, AddTiles,
// or in a Panel, AddHeld and AddStream) and y's, read at the random rows
// π_b(I) and π_b(J), from all n samples of y held in memory. Each tile's
// sums are those Permutations computes, added exactly, so the test after
// every tile of the grid is the same, to the bit, whatever the schedule,
// order or buffers, and equal to Permutations'.
//
// Memory: y (8·n·dim bytes) and its rows centred once (as much again, for
// a space of 16 or more dimensions), and per worker a tile of x's
// distances (8·TileSize² bytes) and the scratch of two tiles. The pass of
// NewPartialPermPass holds z as y, and per worker four tiles more and the
// scratch of three.
//
// A PermPass is not safe for concurrent use; it uses its Plan's workers.
type PermPass struct {
	pl      *Plan
	test    *estimator.PermutationTest // nil: pdcov's test only
	x, y    int
	r       int
	perm    *Permutation
	pre     *centredRows
	work    []*permWorker
	sc      *plan // the plans of y (and z) over ys (and zs), unpermuted
	partial *partialPerm
}

// partialPerm is what the pass of pdcov's test adds to the independence
// test's: the test, space z, z's rows centred once, and the U-centring
// of x, y and z from the complete state.
type partialPerm struct {
	test       *estimator.PartialPermutationTest
	z          int
	pre        *centredRows
	nf         float64
	cx, cy, cz uCentring
}

// uCentring is what U-centres a space's shifted distances: the row sums
// r' of the complete state, T'/((n−1)(n−2)) and, for x and y, the
// coefficient β = U_kz/U_zz of the projection off z (0 if U_zz ≤ 0).
type uCentring struct {
	r       []float64
	t, beta float64
}

func newUCentring(st *estimator.Stats, k int) uCentring {
	nf := float64(st.N())
	rs := st.RowSums(k, nil)
	var t float64
	for _, v := range rs {
		t += v
	}
	return uCentring{r: rs, t: t / ((nf - 1) * (nf - 2))}
}

type permWorker struct {
	b        int
	px, py   *plan
	scx, scy *scratch
	slx, sly slot
	cx, vals []float64
	bufX     []Space
	// pdcov's test: z over the buffer, y and z in memory at π_b (the
	// identity for b = −1), their scratch, slots and captured tiles,
	// P_xz of the tile, and the sums T, T_b of the tile.
	pz, pyc, pzc    *plan
	scz, scyc, sczc *scratch
	slz, slyc, slzc slot
	cz, pxz, ay, az []float64
	ryJ, rzJ        []float64 // y's and z's row sums r' at π_b(J)
	pvals           []float64
	bufZ            []Space
}

// NewPermPass returns the pass adding to test (of spaces x and y, R
// permutations π_b = perm.At(b, ·)) given st, the complete state of the
// plan, with ys all n rows of space y. It returns an error wrapping
// ErrResume if st was made with other shifts or scales, or ErrShape if ys
// is not y's n rows. It panics if NewStats has not been called.
func (pl *Plan) NewPermPass(st *estimator.Stats, test *estimator.PermutationTest, x, y int, perm *Permutation, ys Space) (*PermPass, error) {
	return pl.newPermPass(st, test, nil, x, y, -1, perm, ys, Space{})
}

// NewPartialPermPass returns the pass adding to pt the sums of the
// permutation test of pdCov(x, y; z) = 0 (see PartialPermutations) and, if
// test is not nil, to test those of the test of independence of x and y
// (as NewPermPass's pass), with ys and zs all n rows of spaces y and z:
// for each tile, x's and z's distance tiles are computed once, from the
// rows of each call, and P_xz formed; each replicate costs y's and z's
// tiles at the permuted rows, from ys and zs. Its errors are
// NewPermPass's; it panics if test and pt have different numbers of
// permutations.
func (pl *Plan) NewPartialPermPass(st *estimator.Stats, test *estimator.PermutationTest, pt *estimator.PartialPermutationTest, x, y, z int, perm *Permutation, ys, zs Space) (*PermPass, error) {
	return pl.newPermPass(st, test, pt, x, y, z, perm, ys, zs)
}

func (pl *Plan) newPermPass(st *estimator.Stats, test *estimator.PermutationTest, pt *estimator.PartialPermutationTest, x, y, z int, perm *Permutation, ys, zs Space) (*PermPass, error) {
	if pl.n < 0 {
		panic("block: NewPermPass before NewStats")
	}
	if test != nil && pt != nil && test.R() != pt.R() {
		panic("block: the two tests of a pass with different numbers of permutations")
	}
	p := pl.eng.p
	if err := compatible(st, estimator.New(p.k, pl.n, p.alpha, p.shift, p.scaleExp)); err != nil {
		return nil, err
	}
	held := []int{y}
	if pt != nil {
		held = append(held, z)
	}
	q := *p
	q.spaces = make([]Space, p.k)
	for i, s := range []Space{ys, zs}[:len(held)] {
		k := held[i]
		if s.Dim != pl.dims[k] || len(s.Data) != pl.n*s.Dim {
			return nil, fmt.Errorf("space %d: %d values of dim %d, the plan has %d rows of dim %d: %w", k, len(s.Data), s.Dim, pl.n, pl.dims[k], ErrShape)
		}
		q.spaces[k] = s
	}
	pp := &PermPass{pl: pl, test: test, x: x, y: y, perm: perm, sc: &q}
	precentre := func(k int) *centredRows {
		if pre := q.sub(k, nil); pre.fused {
			pre.precentre()
			return pre.centredRows
		}
		return nil
	}
	pp.pre = precentre(y)
	if test != nil {
		pp.r = test.R()
	}
	if pt != nil {
		pp.r = pt.R()
		pa := &partialPerm{test: pt, z: z, pre: precentre(z), nf: float64(pl.n),
			cx: newUCentring(st, x), cy: newUCentring(st, y), cz: newUCentring(st, z)}
		if uzz, _ := st.U(z, z); uzz > 0 {
			uxz, _ := st.U(x, z)
			uyz, _ := st.U(y, z)
			pa.cx.beta, pa.cy.beta = uxz/uzz, uyz/uzz
		}
		pp.partial = pa
	}
	return pp, nil
}

// AddTiles adds the sums of the tiles listed (each at most once over the
// pass), x's rows from rows, all n samples of every space in memory (y's
// are read from the pass's), calling added as Plan.AddTiles does.
func (pp *PermPass) AddTiles(ctx context.Context, rows []Space, tiles []Tile, added func(Tile) error) error {
	if err := pp.pl.wholeRows(rows); err != nil {
		return err
	}
	refs, err := pp.pl.refs(tiles)
	if err != nil {
		return err
	}
	return pp.run(ctx, rows, refs, tiles, added)
}

// AddHeld adds the sums of the tiles among pn's held rows that keep
// accepts (all if nil), as Panel.AddHeldTiles adds their statistics.
func (pp *PermPass) AddHeld(ctx context.Context, pn *Panel, keep func(Tile) bool, added func(Tile) error) error {
	buf, tiles, err := pn.heldTiles(keep)
	if err != nil || len(tiles) == 0 {
		return err
	}
	return pp.run(ctx, buf, pn.tiles, tiles, added)
}

// AddStream adds the sums of the tiles between pn's held rows and rows,
// the samples from j0 on, that keep accepts (all if nil), as
// Panel.AddStreamTiles adds their statistics.
func (pp *PermPass) AddStream(ctx context.Context, pn *Panel, j0 int, rows []Space, keep func(Tile) bool, added func(Tile) error) error {
	buf, tiles, err := pn.streamTiles(j0, rows, keep)
	if err != nil || len(tiles) == 0 {
		return err
	}
	return pp.run(ctx, buf, pn.tiles, tiles, added)
}

// run computes the tiles refs, x's rows over buf, on the workers, and adds
// them to the test from the calling goroutine (see runTiles).
func (pp *PermPass) run(ctx context.Context, buf []Space, refs []tileRef, tiles []Tile, added func(Tile) error) error {
	workers := max(1, min(pp.pl.eng.workers, len(refs)))
	for len(pp.work) < workers {
		pp.work = append(pp.work, pp.newWorker(buf))
	}
	for _, wk := range pp.work[:workers] {
		wk.bufX[0] = buf[pp.x]
		wk.px.spaces = wk.bufX
		wk.scx.forget() // a new buffer
		if pa := pp.partial; pa != nil {
			wk.bufZ[0] = buf[pa.z]
			wk.pz.spaces = wk.bufZ
			wk.scz.forget()
		}
	}
	return runTiles(ctx, workers, len(refs), func(w, i int) {
		wk, r := pp.work[w], refs[i]
		cx := wk.cx[:r.ni*r.nj]
		capture(wk.px, wk.scx, &wk.slx, cx, r, r.li, r.lj)
		if pp.test != nil {
			setRef(&wk.sly, r, 1)
			wk.scy.against = cx
			for b := range pp.r {
				wk.b = b
				wk.scy.forget() // the rows I are other samples for each b
				wk.scy.dotSum = 0
				wk.py.tile(wk.scy, r.gi, r.ni, r.gj, r.nj, r.diag, wk.py.shift, wk.sly.tile.S, wk.sly.tile.RowI, wk.sly.viewJ)
				wk.vals[b] = 2 * wk.scy.dotSum
			}
		}
		if pp.partial != nil {
			pp.partialTile(wk, r, cx)
		}
	}, func(w, i int) error {
		wk := pp.work[w]
		// Both tests' sums or neither: a value that is not finite fails
		// the pass before anything of the tile is added.
		for _, v := range [][]float64{wk.vals, wk.pvals} {
			for _, f := range v {
				if math.IsNaN(f) || math.IsInf(f, 0) {
					return fmt.Errorf("permutation sums of tile (%d, %d): %v: %w", refs[i].gi, refs[i].gj, f, estimator.ErrOverflow)
				}
			}
		}
		if pp.test != nil {
			if err := pp.test.Add(wk.vals); err != nil {
				return err
			}
		}
		if pa := pp.partial; pa != nil {
			if err := pa.test.Add(wk.pvals); err != nil {
				return err
			}
		}
		if added == nil {
			return nil
		}
		return added(tiles[i])
	})
}

// newWorker returns a worker's plans, scratch and tiles, the plans of
// x and z over buf (whose dimensions size the scratch).
func (pp *PermPass) newWorker(buf []Space) *permWorker {
	t := pp.pl.TileSize()
	wk := &permWorker{cx: make([]float64, t*t), bufX: make([]Space, 1)}
	at := func(i int) int {
		if wk.b < 0 {
			return i
		}
		return pp.perm.At(wk.b, i)
	}
	qx := *pp.pl.eng.p
	qx.spaces = make([]Space, qx.k)
	copy(qx.spaces, buf)
	wk.px = qx.sub(pp.x, nil)
	wk.scx, wk.slx = wk.px.newScratch(), wk.px.newSlot()
	if pp.test != nil {
		wk.vals = make([]float64, pp.r)
		wk.py = pp.sc.sub(pp.y, at)
		wk.py.centredRows = pp.pre
		wk.scy, wk.sly = wk.py.newScratch(), wk.py.newSlot()
	}
	if pa := pp.partial; pa != nil {
		wk.pvals = make([]float64, pp.r+1)
		wk.bufZ = make([]Space, 1)
		wk.pz = qx.sub(pa.z, nil)
		wk.pyc, wk.pzc = pp.sc.sub(pp.y, at), pp.sc.sub(pa.z, at)
		wk.pyc.centredRows, wk.pzc.centredRows = pp.pre, pa.pre
		wk.scz, wk.scyc, wk.sczc = wk.pz.newScratch(), wk.pyc.newScratch(), wk.pzc.newScratch()
		wk.slz, wk.slyc, wk.slzc = wk.pz.newSlot(), wk.pyc.newSlot(), wk.pzc.newSlot()
		wk.cz, wk.pxz, wk.ay, wk.az = make([]float64, t*t), make([]float64, t*t), make([]float64, t*t), make([]float64, t*t)
		wk.ryJ, wk.rzJ = make([]float64, t), make([]float64, t)
	}
	return wk
}

// capture computes the shifted distance tile of the one-space plan q at
// r, its rows I from i0 and J from j0 of q's spaces, into c (ni×nj, below
// the diagonal of a diagonal tile 0).
func capture(q *plan, sc *scratch, sl *slot, c []float64, r tileRef, i0, j0 int) {
	clear(c)
	sc.capture = c
	setRef(sl, r, 1)
	q.tile(sc, i0, r.ni, j0, r.nj, r.diag, q.shift, sl.tile.S, sl.tile.RowI, sl.viewJ)
}

// partialTile computes the sums of pdcov's test of the tile r into
// wk.pvals, given cx, x's shifted distance tile: P_xz of the tile from x's
// and z's tiles, then T (the identity, b = −1) and every T_b, y's and z's
// tiles at the rows π_b(I) × π_b(J), as energy's projection
//
//	Ũ_ij = a'_ij − (r'_i + r'_j)/(n−2) + T'/((n−1)(n−2))
//	P_xz = Ũx − β_x·Ũz,  P_yz = Ũy − β_y·Ũz
//
// each product rounded before it is added (no fused multiply-add on any
// CPU), so the tile's sums are the same bits everywhere.
func (pp *PermPass) partialTile(wk *permWorker, r tileRef, ax []float64) {
	pa := pp.partial
	nf := pa.nf
	if nf < 4 { // no statistic (p = 1): sums of zeros
		clear(wk.pvals)
		return
	}
	ni, nj, diag := r.ni, r.nj, r.diag
	az := wk.cz[:ni*nj]
	capture(wk.pz, wk.scz, &wk.slz, az, r, r.li, r.lj)
	cx, cy, cz := &pa.cx, &pa.cy, &pa.cz
	pxz := wk.pxz[:ni*nj]
	for i := range ni {
		for j := range nj {
			if diag && j <= i {
				pxz[i*nj+j] = 0
				continue
			}
			gi, gj := r.gi+i, r.gj+j
			ux := ax[i*nj+j] - (cx.r[gi]+cx.r[gj])/(nf-2) + cx.t
			uz := az[i*nj+j] - (cz.r[gi]+cz.r[gj])/(nf-2) + cz.t
			pxz[i*nj+j] = ux - float64(cx.beta*uz)
		}
	}
	ay, azp := wk.ay[:ni*nj], wk.az[:ni*nj]
	ryJ, rzJ := wk.ryJ[:nj], wk.rzJ[:nj]
	for b := -1; b < pp.r; b++ {
		wk.b = b
		wk.scyc.forget() // the rows I are other samples for each b
		wk.sczc.forget()
		capture(wk.pyc, wk.scyc, &wk.slyc, ay, r, r.gi, r.gj)
		capture(wk.pzc, wk.sczc, &wk.slzc, azp, r, r.gi, r.gj)
		// The row sums at the permuted columns, gathered once a tile
		// (π_b costs a Feistel network a call).
		for j := range nj {
			gj := wk.pyc.perm(r.gj + j)
			ryJ[j], rzJ[j] = cy.r[gj], cz.r[gj]
		}
		var s float64
		for i := range ni {
			gi := wk.pyc.perm(r.gi + i)
			ryi, rzi := cy.r[gi], cz.r[gi]
			j0 := 0
			if diag {
				j0 = i + 1
			}
			pr, yr, zr := pxz[i*nj:(i+1)*nj], ay[i*nj:(i+1)*nj], azp[i*nj:(i+1)*nj]
			for j := j0; j < nj; j++ {
				uy := yr[j] - (ryi+ryJ[j])/(nf-2) + cy.t
				uz := zr[j] - (rzi+rzJ[j])/(nf-2) + cz.t
				s += float64(pr[j] * (uy - float64(cy.beta*uz)))
			}
		}
		wk.pvals[b+1] = 2 * s
	}
}
