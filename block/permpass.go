package block

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// PermPass is the permutation test of Permutations as a pass of a Plan:
// the sums of the tiles of the grid added to a PermutationTest tile by
// tile, x's rows taken from the rows of each call (in memory, AddTiles,
// or in a Panel, AddHeld and AddStream) and y's, read at the random rows
// π_b(I) and π_b(J), from all n samples of y held in memory. Each tile's
// sums are those Permutations computes, added exactly, so the test after
// every tile of the grid is the same, to the bit, whatever the schedule,
// order or buffers, and equal to Permutations'. A pass may add the tests
// of several pairs (NewPermPassPairs, the entries of a matrix), each
// space x's tile computed once per tile for all its pairs, with the same
// permutations.
//
// Memory: the table of every π_b (4·R·n bytes, PermTableBytes: π_b is a
// Fisher–Yates shuffle, formed whole, and a tile reads it at π_b(I) and
// π_b(J)), y (8·n·dim bytes) and its rows centred once (as much again,
// for a space of 16 or more dimensions), per worker the exact sums of a
// group of tiles (PermWorkerBytes per pair), and per worker up to 4 tiles of x's
// distances (8·TileSize² bytes each: a worker takes a group of up to 4
// tiles of a tile row) and the scratch of two tiles; for several pairs,
// that of each distinct y, and max(4, distinct x) tiles. The pass of
// NewPartialPermPass holds z as y, and per worker seven tiles more (P_xz
// of each tile of a group) and the scratch of three.
//
// A PermPass is not safe for concurrent use; it uses its Plan's workers.
type PermPass struct {
	pl      *Plan
	pairs   []permPair // the tests of independence (none: pdcov's only)
	xs, ys  []int      // the distinct spaces x (captured) and y (held)
	r       int
	perm    *Permutation
	tab     []uint32       // π_b(i) at b·n + i, formed at the first tile (permTable)
	pre     []*centredRows // per ys: its rows centred once, or nil
	work    []*permWorker
	sc      *plan // the plans of y (and z) over their rows held, unpermuted
	partial *partialPerm
	// afterPerm, if set (tests), is called by a worker after each
	// permutation of a group of tiles.
	afterPerm func()
}

// permPair is one test of independence of a pass: its sums and the
// indices of its x in xs and its y in ys.
type permPair struct {
	test   *estimator.PermutationTest
	xi, yi int
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
	b    int
	err  error   // the context's, if the group was left unfinished
	px   []*plan // per xs, over the buffer
	scx  []*scratch
	slx  []slot
	cx   [][]float64 // per tile of a group and xs (t·len(xs) + xi): x's shifted distances
	bufX [][]Space
	py   []*plan // per ys, at π_b
	scy  []*scratch
	sly  []slot
	yt   []float64 // y's shifted distances at π_b of a tile
	acc  exactSum
	accI []exactSum // per row and column of a tile: its exact sums
	accJ []exactSum
	rx   []rowSums  // per tile of a group and xs: x's exact row sums
	vals []tileSums // per tile of a group and pair (t·len(pairs) + pi): its sums
	// pdcov's test: z over the buffer, y and z in memory at π_b (the
	// identity for b = −1), their scratch, slots and captured tiles,
	// P_xz of the tile, and the sums T, T_b of the tile.
	pz, pyc, pzc    *plan
	scz, scyc, sczc *scratch
	slz, slyc, slzc slot
	cz, ay, az      []float64
	pxz             [][]float64 // per tile of a group: its P_xz
	ryJ, rzJ        []float64   // y's and z's row sums r' at π_b(J)
	pvals           [][]float64 // per tile of a group
	bufZ            []Space
}

// tileSums are the exact sums of one tile for one test: S'(π) of the
// identity (b = −1) and of every π_b, each as the values comp[off[b+1] :
// off[b+2]], whose exact sum it is, and y's row sums; ok is false if a sum
// is not finite or not exact (see exactSum).
type tileSums struct {
	comp []float64
	off  []int32
	ry   rowSums
	ok   bool
}

// rowSums are the exact sums of the rows of one space's tile, each as
// values: row row[k] (a sample) has the sum of comp[off[k] : off[k+1]].
// A row of a diagonal tile appears twice (its part right of the
// diagonal, and below).
type rowSums struct {
	row  []int
	comp []float64
	off  []int32
	ok   bool
}

// set sets rs to the exact row and column sums of c (ni×nj, rows I from
// i0, J from j0), with accI and accJ (at least ni and nj).
func (rs *rowSums) set(c []float64, ni, nj, i0, j0 int, accI, accJ []exactSum) {
	rs.row, rs.comp, rs.off, rs.ok = rs.row[:0], rs.comp[:0], rs.off[:0], true
	for j := range nj {
		accJ[j].reset()
	}
	for i := range ni {
		a := &accI[i]
		a.reset()
		row := c[i*nj : (i+1)*nj]
		a.sum(row)
		for j, v := range row {
			accJ[j].put(v)
		}
		if (i+1)%carryEvery == 0 {
			for j := range nj {
				accJ[j].carry()
			}
		}
	}
	emit := func(acc []exactSum, g0 int) {
		for k := range acc {
			rs.row = append(rs.row, g0+k)
			rs.off = append(rs.off, int32(len(rs.comp)))
			var ok bool
			rs.comp, ok = acc[k].appendTo(rs.comp, 0)
			rs.ok = rs.ok && ok
		}
	}
	emit(accI[:ni], i0)
	emit(accJ[:nj], j0)
	rs.off = append(rs.off, int32(len(rs.comp)))
}

// add adds the row sums to space k (0: x, 1: y) of test.
func (rs *rowSums) add(test *estimator.PermutationTest, k int) error {
	for i, g := range rs.row {
		if err := test.AddRow(k, g, rs.comp[rs.off[i]:rs.off[i+1]]); err != nil {
			return err
		}
	}
	return nil
}

// NewPermPass returns the pass adding to test (of spaces x and y, R
// permutations π_b = perm.At(b, ·)) given st, the complete state of the
// plan, with ys all n rows of space y. It returns an error wrapping
// ErrResume if st was made with other shifts or scales, or ErrShape if ys
// is not y's n rows. It panics if NewStats has not been called.
func (pl *Plan) NewPermPass(st *estimator.Stats, test *estimator.PermutationTest, x, y int, perm *Permutation, ys Space) (*PermPass, error) {
	held := make([]Space, len(pl.dims))
	held[y] = ys
	return pl.newPermPass(st, []*estimator.PermutationTest{test}, [][2]int{{x, y}}, nil, -1, perm, held)
}

// NewPermPassPairs returns the pass adding to tests[i] the sums of the
// test of independence of spaces pairs[i] = {x, y}, every test of the
// same R permutations π_b = perm.At(b, ·) (of the samples of every y),
// with held[y] all n rows of each space y (the others unused): for each
// tile, each distinct x's distance tile is computed once, from the rows
// of each call, and each pair's sums are those of NewPermPass's pass for
// that pair. Its errors are NewPermPass's; it panics if the tests have
// different numbers of permutations, or none is given.
func (pl *Plan) NewPermPassPairs(st *estimator.Stats, tests []*estimator.PermutationTest, pairs [][2]int, perm *Permutation, held []Space) (*PermPass, error) {
	if len(tests) == 0 || len(tests) != len(pairs) {
		panic("block: a pass of no tests, or not one per pair")
	}
	return pl.newPermPass(st, tests, pairs, nil, -1, perm, held)
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
	held := make([]Space, len(pl.dims))
	held[y], held[z] = ys, zs
	var tests []*estimator.PermutationTest
	if test != nil {
		tests = append(tests, test)
	}
	return pl.newPermPass(st, tests, [][2]int{{x, y}}[:len(tests)], pt, z, perm, held)
}

// newPermPass returns the pass of the tests of pairs and, if pt is not
// nil, of pdcov's test of pairs[0] (or x = 0, y = 1 without tests) given
// z.
func (pl *Plan) newPermPass(st *estimator.Stats, tests []*estimator.PermutationTest, pairs [][2]int, pt *estimator.PartialPermutationTest, z int, perm *Permutation, held []Space) (*PermPass, error) {
	if pl.n < 0 {
		panic("block: NewPermPass before NewStats")
	}
	p := pl.eng.p
	if err := compatible(st, estimator.New(p.k, pl.n, p.alpha, p.shift, p.scaleExp)); err != nil {
		return nil, err
	}
	x, y := 0, 1
	if len(pairs) > 0 {
		x, y = pairs[0][0], pairs[0][1]
	}
	pp := &PermPass{pl: pl, perm: perm}
	index := func(list *[]int, k int) int {
		if i := slices.Index(*list, k); i >= 0 {
			return i
		}
		*list = append(*list, k)
		return len(*list) - 1
	}
	for i, pr := range pairs {
		if pp.r = tests[i].R(); pp.r != tests[0].R() {
			panic("block: the tests of a pass with different numbers of permutations")
		}
		pp.pairs = append(pp.pairs, permPair{test: tests[i], xi: index(&pp.xs, pr[0]), yi: index(&pp.ys, pr[1])})
	}
	if pt != nil {
		if len(tests) > 0 && pt.R() != pp.r {
			panic("block: the two tests of a pass with different numbers of permutations")
		}
		pp.r = pt.R()
		index(&pp.xs, x) // xs[0], ys[0]: pdcov's x and y
		index(&pp.ys, y)
	}
	q := *p
	q.spaces = make([]Space, p.k)
	need := pp.ys
	if pt != nil {
		need = append(slices.Clone(need), z)
	}
	for _, k := range need {
		if k >= len(held) || held[k].Dim != pl.dims[k] || len(held[k].Data) != pl.n*held[k].Dim {
			var s Space
			if k < len(held) {
				s = held[k]
			}
			return nil, fmt.Errorf("space %d: %d values of dim %d, the plan has %d rows of dim %d: %w", k, len(s.Data), s.Dim, pl.n, pl.dims[k], ErrShape)
		}
		q.spaces[k] = held[k]
	}
	pp.sc = &q
	precentre := func(k int) *centredRows {
		if pre := q.sub(k, nil); pre.fused {
			pre.precentre()
			return pre.centredRows
		}
		return nil
	}
	for _, k := range pp.ys {
		pp.pre = append(pp.pre, precentre(k))
	}
	if pt != nil {
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
		for i, k := range pp.xs {
			wk.bufX[i][0] = buf[k]
			wk.px[i].spaces = wk.bufX[i]
			wk.scx[i].forget() // a new buffer
		}
		if pa := pp.partial; pa != nil {
			wk.bufZ[0] = buf[pa.z]
			wk.pz.spaces = wk.bufZ
			wk.scz.forget()
		}
	}
	// A worker takes groups of up to group() tiles of one tile row: for
	// each b, y's permuted rows π_b(I) are packed once for the group.
	// Smaller groups when there are few tiles, so that every worker has
	// some.
	size := max(1, min(pp.group(), len(refs)/workers))
	var groups [][2]int // [first, end) of refs
	for i := 0; i < len(refs); {
		e := i + 1
		for e < len(refs) && e-i < size && refs[e].li == refs[i].li && refs[e].gi == refs[i].gi && refs[e].ni == refs[i].ni {
			e++
		}
		groups = append(groups, [2]int{i, e})
		i = e
	}
	if err := pp.permTable(ctx); err != nil {
		return err
	}
	nx, np := len(pp.xs), len(pp.pairs)
	return runTiles(ctx, workers, len(groups), func(w, g int) {
		wk, grp := pp.work[w], refs[groups[g][0]:groups[g][1]]
		wk.err = nil
		for t, r := range grp {
			for xi := range pp.xs {
				c := wk.cx[t*nx+xi][:r.ni*r.nj]
				capture(wk.px[xi], wk.scx[xi], &wk.slx[xi], c, r, r.li, r.lj)
				wk.rx[t*nx+xi].set(c, r.ni, r.nj, r.gi, r.gj, wk.accI, wk.accJ)
			}
		}
		for pi, pr := range pp.pairs {
			py, scy, sly := wk.py[pr.yi], wk.scy[pr.yi], &wk.sly[pr.yi]
			for t := range grp {
				ts := &wk.vals[t*np+pi]
				ts.comp, ts.off, ts.ok = ts.comp[:0], ts.off[:0], true
			}
			// b = −1 is the identity: the observed S' and y's row sums,
			// from the same distances as every π_b.
			for b := -1; b < pp.r; b++ {
				if err := ctx.Err(); err != nil {
					wk.err = err // the group unfinished: added is not called
					return
				}
				wk.b = b
				scy.forget() // the rows I are other samples for each b
				for t, r := range grp {
					ts := &wk.vals[t*np+pi]
					yt := wk.yt[:r.ni*r.nj]
					capture(py, scy, sly, yt, r, r.gi, r.gj)
					if b < 0 {
						ts.ry.set(yt, r.ni, r.nj, r.gi, r.gj, wk.accI, wk.accJ)
					}
					wk.acc.reset()
					wk.acc.dot(wk.cx[t*nx+pr.xi][:r.ni*r.nj], yt)
					ts.off = append(ts.off, int32(len(ts.comp)))
					var ok bool
					ts.comp, ok = wk.acc.appendTo(ts.comp, 1) // i<j and j>i
					ts.ok = ts.ok && ok
				}
				if pp.afterPerm != nil && b >= 0 {
					pp.afterPerm()
				}
			}
			for t := range grp {
				ts := &wk.vals[t*np+pi]
				ts.off = append(ts.off, int32(len(ts.comp)))
			}
		}
		if pp.partial != nil {
			wk.err = pp.partialGroup(ctx, wk, grp)
		}
	}, func(w, g int) error {
		wk := pp.work[w]
		if wk.err != nil {
			return wk.err
		}
		for t := range groups[g][1] - groups[g][0] {
			i := groups[g][0] + t
			// Every test's sums of the tile or none: a value that is not
			// finite (or not exact) fails the pass before anything of the
			// tile is added.
			overflow := func() error {
				return fmt.Errorf("permutation sums of tile (%d, %d): a product or sum beyond float64's range: %w", refs[i].gi, refs[i].gj, estimator.ErrOverflow)
			}
			vals := wk.vals[t*np : (t+1)*np]
			for pi, ts := range vals {
				if !ts.ok || !ts.ry.ok || !wk.rx[t*nx+pp.pairs[pi].xi].ok {
					return overflow()
				}
			}
			var pvals []float64
			if pp.partial != nil {
				pvals = wk.pvals[t]
				for _, f := range pvals {
					if math.IsNaN(f) || math.IsInf(f, 0) {
						return overflow()
					}
				}
			}
			for pi, pr := range pp.pairs {
				ts := &vals[pi]
				for b := -1; b < pp.r; b++ {
					if err := pr.test.AddSum(b, ts.comp[ts.off[b+1]:ts.off[b+2]]); err != nil {
						return err
					}
				}
				if err := wk.rx[t*nx+pr.xi].add(pr.test, 0); err != nil {
					return err
				}
				if err := ts.ry.add(pr.test, 1); err != nil {
					return err
				}
			}
			if pa := pp.partial; pa != nil {
				if err := pa.test.Add(pvals); err != nil {
					return err
				}
			}
			if added != nil {
				if err := added(tiles[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// permTable forms, once, the table of every π_b (4·R·n bytes), on the
// plan's workers.
func (pp *PermPass) permTable(ctx context.Context) error {
	if pp.tab != nil {
		return nil
	}
	n := pp.pl.n
	tab := make([]uint32, pp.r*n)
	g, gctx := errgroup.WithContext(ctx)
	// CPU bound: a permutation per worker at a time.
	g.SetLimit(max(1, pp.pl.eng.workers))
	for b := range pp.r {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			shuffle(pp.perm, b, tab[b*n:(b+1)*n], new(rand.ChaCha8))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	pp.tab = tab
	return nil
}

// PermTableBytes is the memory of the table of the permutations of a
// pass: 4·R·n bytes, π_b(i) for every b and i.
func PermTableBytes(n, r int) int64 { return 4 * int64(n) * int64(r) }

// PermWorkerBytes is the memory a worker of a pass holds per pair of
// spaces tested for its sums of a group of tiles, for R permutations:
// about 5 values of 8 bytes and an offset of 4 for each sum of each tile
// of a group (more where the values span more than 160 bits).
func PermWorkerBytes(r int) int64 { return 4 * 44 * (int64(r) + 1) }

// group returns the number of tiles of one tile row a worker takes at
// once: 4 for one space x (its 4 tiles of x's distances, 2 MB at the
// default tile size, and the rows π_b(I) packed once for 4 tiles instead
// of each), fewer for several.
func (pp *PermPass) group() int { return max(1, 4/len(pp.xs)) }

// newWorker returns a worker's plans, scratch and tiles, the plans of
// x and z over buf (whose dimensions size the scratch).
func (pp *PermPass) newWorker(buf []Space) *permWorker {
	t := pp.pl.TileSize()
	wk := &permWorker{}
	n := pp.pl.n
	at := func(i int) int {
		if wk.b < 0 {
			return i
		}
		return int(pp.tab[wk.b*n+i])
	}
	qx := *pp.pl.eng.p
	qx.spaces = make([]Space, qx.k)
	copy(qx.spaces, buf)
	for _, k := range pp.xs {
		px := qx.sub(k, nil)
		wk.px = append(wk.px, px)
		wk.scx = append(wk.scx, px.newScratch())
		wk.slx = append(wk.slx, px.newSlot())
		wk.bufX = append(wk.bufX, make([]Space, 1))
	}
	for yi, k := range pp.ys {
		py := pp.sc.sub(k, at)
		py.centredRows = pp.pre[yi]
		wk.py = append(wk.py, py)
		wk.scy = append(wk.scy, py.newScratch())
		wk.sly = append(wk.sly, py.newSlot())
	}
	for range pp.group() * len(pp.xs) {
		wk.cx = append(wk.cx, make([]float64, t*t))
	}
	wk.rx = make([]rowSums, pp.group()*len(pp.xs))
	wk.vals = make([]tileSums, pp.group()*len(pp.pairs))
	wk.yt = make([]float64, t*t)
	wk.accI, wk.accJ = make([]exactSum, t), make([]exactSum, t)
	if pa := pp.partial; pa != nil {
		for range pp.group() {
			wk.pvals = append(wk.pvals, make([]float64, pp.r+1))
		}
		wk.bufZ = make([]Space, 1)
		wk.pz = qx.sub(pa.z, nil)
		wk.pyc, wk.pzc = pp.sc.sub(pp.ys[0], at), pp.sc.sub(pa.z, at)
		wk.pyc.centredRows, wk.pzc.centredRows = pp.pre[0], pa.pre
		wk.scz, wk.scyc, wk.sczc = wk.pz.newScratch(), wk.pyc.newScratch(), wk.pzc.newScratch()
		wk.slz, wk.slyc, wk.slzc = wk.pz.newSlot(), wk.pyc.newSlot(), wk.pzc.newSlot()
		wk.cz, wk.ay, wk.az = make([]float64, t*t), make([]float64, t*t), make([]float64, t*t)
		for range pp.group() {
			wk.pxz = append(wk.pxz, make([]float64, t*t))
		}
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

// partialGroup computes the sums of pdcov's test of the tiles grp, one
// group of a tile row, into wk.pvals[t] for the t-th, given wk.cx, x's
// shifted distance tiles: P_xz of each tile from x's and z's tiles, then
// T (the identity, b = −1) and every T_b, y's and z's tiles at the rows
// π_b(I) × π_b(J) (π_b(I) packed once for the group), as energy's
// projection
//
//	Ũ_ij = a'_ij − (r'_i + r'_j)/(n−2) + T'/((n−1)(n−2))
//	P_xz = Ũx − β_x·Ũz,  P_yz = Ũy − β_y·Ũz
//
// each product rounded before it is added (no fused multiply-add on any
// CPU), so each tile's sums are the same bits everywhere.
func (pp *PermPass) partialGroup(ctx context.Context, wk *permWorker, grp []tileRef) error {
	pa := pp.partial
	nf := pa.nf
	if nf < 4 { // no statistic (p = 1): sums of zeros
		for t := range grp {
			clear(wk.pvals[t])
		}
		return nil
	}
	cx, cy, cz := &pa.cx, &pa.cy, &pa.cz
	nx := len(pp.xs)
	for t, r := range grp {
		ni, nj, diag := r.ni, r.nj, r.diag
		ax, az := wk.cx[t*nx][:ni*nj], wk.cz[:ni*nj]
		capture(wk.pz, wk.scz, &wk.slz, az, r, r.li, r.lj)
		pxz := wk.pxz[t][:ni*nj]
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
	}
	for b := -1; b < pp.r; b++ {
		if err := ctx.Err(); err != nil {
			return err // the group unfinished: added is not called
		}
		wk.b = b
		wk.scyc.forget() // the rows I are other samples for each b
		wk.sczc.forget()
		for t, r := range grp {
			ni, nj, diag := r.ni, r.nj, r.diag
			ay, azp := wk.ay[:ni*nj], wk.az[:ni*nj]
			capture(wk.pyc, wk.scyc, &wk.slyc, ay, r, r.gi, r.gj)
			capture(wk.pzc, wk.sczc, &wk.slzc, azp, r, r.gi, r.gj)
			// The row sums at the permuted columns, gathered once a tile.
			ryJ, rzJ := wk.ryJ[:nj], wk.rzJ[:nj]
			for j := range nj {
				gj := wk.pyc.perm(r.gj + j)
				ryJ[j], rzJ[j] = cy.r[gj], cz.r[gj]
			}
			pxz := wk.pxz[t][:ni*nj]
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
			wk.pvals[t][b+1] = 2 * s
		}
		if pp.afterPerm != nil && b >= 0 {
			pp.afterPerm()
		}
	}
	return nil
}
