package block

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// Univariate returns the state of K univariate spaces (every Dim 1) with
// exponent α = 1 in O(K·n log n + K²·n log n) time and O(n) memory, instead
// of the n²/2 pairs of Compute (Huo & Székely 2016; Chaudhuri & Hu 2019):
//
//   - the row sums from each space's sorted order and prefix sums,
//
//     r_i = sum_j |x_i − x_j| = x_i·(2m − n) − 2·P_m + P_n
//
//     for x_i at rank m of the sorted values, P_m the sum of the m values
//     below it;
//
//   - S_kk = sum_{i≠j} (x_i − x_j)² = 2n·sum x_i² − 2(sum x_i)²;
//
//   - S_kl, k < l, by a merge sort on y of the samples in x order, which
//     adds for each sample i the pairs j before it in x with y_j < y_i:
//
//     F = sum_{j <x i, y_j < y_i} (x_i − x_j)(y_i − y_j)
//     G = sum_{j <x i} (x_i − x_j)(y_i − y_j) = n·sum x_i y_i − sum x_i·sum y_i
//     S_kl = 2·sum_i sum_{j <x i} (x_i − x_j)|y_i − y_j| = 4F − 2G
//
// The spaces are scaled and centred as in Compute. Every sum is carried in
// double-double arithmetic (error-free products by math.FMA) and its high
// and low parts are added exactly to the state, so the result is that of
// Compute to rounding (Compute rounds each distance; this path never forms
// one), with no shift (every c_k = 0): its state does not merge with tile
// states. The merge passes run on opts.Workers goroutines and their
// partial sums are added in a fixed order, so the result is bit-identical
// for every worker count.
//
// Memory: 16 bytes per sample per space for the centred values and the row
// sums' two parts, 32 bytes per sample for the merge of a pair of spaces,
// plus the state. It returns an error wrapping ErrShape if a space is not
// univariate, ErrExponent if α != 1, the errors of Compute for invalid
// input, and ctx.Err().
func Univariate(ctx context.Context, spaces []Space, opts Options) (*estimator.Stats, error) {
	if opts.Workers < 0 {
		panic("block: negative worker count")
	}
	if a := opts.Exponent; a != 0 && a != 1 {
		return nil, fmt.Errorf("exponent %v: the univariate path needs 1: %w", a, ErrExponent)
	}
	n, err := validate(spaces)
	if err != nil {
		return nil, err
	}
	for k, s := range spaces {
		if s.Dim != 1 {
			return nil, fmt.Errorf("space %d: dim %d, the univariate path needs 1: %w", k, s.Dim, ErrShape)
		}
	}
	workers := opts.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	k := len(spaces)
	scale := make([]int, k)
	vals := make([][]float64, k)
	for c, s := range spaces {
		m := min(n, meanRows)
		scale[c] = scaleExponent(s, m)
		f := math.Ldexp(1, -scale[c])
		mu := columnMedians(s, m, f, roundingBits)[0]
		v := make([]float64, n)
		for i, x := range s.Data {
			v[i] = x*f - mu
		}
		vals[c] = v
	}
	st := estimator.New(k, n, 1, make([]float64, k), scale)
	pairs := k * (k + 1) / 2
	hi := &estimator.Tile{Diagonal: true, S: make([]float64, pairs), RowI: make([][]float64, k)}
	lo := &estimator.Tile{Diagonal: true, S: make([]float64, pairs), RowI: make([][]float64, k)}
	// The spaces' row sums are independent: one index each of the
	// package's loop; each writes its own slots.
	err = forEach(ctx, workers, len(vals), func(int) func(int) error {
		return func(c int) error {
			v := vals[c]
			hi.RowI[c], lo.RowI[c] = rowSums1(v)
			s := selfSum1(v)
			p := estimator.PairIndex(k, c, c)
			hi.S[p], lo.S[p] = s.hi, s.lo
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	for c := range k {
		for d := c + 1; d < k; d++ {
			s, err := crossSum1(ctx, vals[c], vals[d], workers)
			if err != nil {
				return nil, err
			}
			p := estimator.PairIndex(k, c, d)
			hi.S[p], lo.S[p] = s.hi, s.lo
		}
	}
	for _, t := range []*estimator.Tile{hi, lo} {
		if err := st.AddTile(t); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// pt is a sample of two univariate spaces.
type pt struct{ x, y float64 }

// dd is a double-double number hi + lo, |lo| <= ulp(hi)/2.
type dd struct{ hi, lo float64 }

func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	return s, (a - (s - bb)) + (b - bb)
}

func quickTwoSum(a, b float64) dd {
	s := a + b
	return dd{s, b - (s - a)}
}

// add returns x + y (the accurate double-double sum).
func (x dd) add(y dd) dd {
	s, e := twoSum(x.hi, y.hi)
	t, f := twoSum(x.lo, y.lo)
	e += t
	r := quickTwoSum(s, e)
	return quickTwoSum(r.hi, r.lo+f)
}

// addF returns x + b.
func (x dd) addF(b float64) dd {
	s, e := twoSum(x.hi, b)
	return quickTwoSum(s, e+x.lo)
}

// mulF returns x·b.
func (x dd) mulF(b float64) dd {
	p := x.hi * b
	e := math.FMA(x.hi, b, -p)
	return quickTwoSum(p, math.FMA(x.lo, b, e))
}

// prod returns a·b exactly.
func prod(a, b float64) dd {
	p := a * b
	return dd{p, math.FMA(a, b, -p)}
}

func (x dd) neg() dd { return dd{-x.hi, -x.lo} }

// rowSums1 returns the high and low parts of r_i = sum_j |v_i − v_j|, in
// the order of v.
func rowSums1(v []float64) (hi, lo []float64) {
	n := len(v)
	order := radixOrder(v)
	var total dd
	for _, i := range order {
		total = total.addF(v[i])
	}
	hi, lo = make([]float64, n), make([]float64, n)
	var before dd // P_m
	for m, i := range order {
		x := v[i]
		r := prod(x, float64(2*m-n)).add(before.mulF(-2)).add(total)
		hi[i], lo[i] = r.hi, r.lo
		before = before.addF(x)
	}
	return hi, lo
}

// sortKey maps a finite float64 to a uint64 of the same order.
func sortKey(x float64) uint64 {
	b := math.Float64bits(x)
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}

// radixOrder returns the indices of v in ascending order of value, ties in
// index order: a least-significant-digit radix sort of the order-keeping
// bits, 8 passes of 8 bits (passes whose byte is the same for every value
// are skipped), stable and without comparisons.
func radixOrder(v []float64) []uint32 {
	n := len(v)
	keys, idx := make([]uint64, n), make([]uint32, n)
	for i, x := range v {
		keys[i], idx[i] = sortKey(x), uint32(i)
	}
	k2, i2 := make([]uint64, n), make([]uint32, n)
	for shift := uint(0); shift < 64; shift += 8 {
		var count [257]int
		for _, k := range keys {
			count[(k>>shift&0xff)+1]++
		}
		if count[(keys[0]>>shift&0xff)+1] == n {
			continue // every key has this byte
		}
		for b := 1; b < 257; b++ {
			count[b] += count[b-1]
		}
		for j, k := range keys {
			d := k >> shift & 0xff
			k2[count[d]], i2[count[d]] = k, idx[j]
			count[d]++
		}
		keys, k2, idx, i2 = k2, keys, i2, idx
	}
	return idx
}

// selfSum1 returns sum_{i≠j} (v_i − v_j)² = 2n·sum v_i² − 2(sum v_i)².
func selfSum1(v []float64) dd {
	var s, s2 dd
	for _, x := range v {
		s = s.addF(x)
		s2 = s2.add(prod(x, x))
	}
	sq := prod(s.hi, s.hi).add(prod(s.hi, s.lo).mulF(2))
	return s2.mulF(2 * float64(len(v))).add(sq.mulF(-2))
}

// crossSum1 returns S_xy = sum_{i≠j} |x_i − x_j||y_i − y_j| = 4F − 2G (see
// Univariate) by a bottom-up merge sort on y of the samples in x order.
// The merges of one level are independent: they run on up to workers
// goroutines, and their partial sums F are added in merge order.
func crossSum1(ctx context.Context, x, y []float64, workers int) (dd, error) {
	n := len(x)
	a := make([]pt, n)
	var sx, sy, sxy dd
	for i := range x {
		sx, sy = sx.addF(x[i]), sy.addF(y[i])
		sxy = sxy.add(prod(x[i], y[i]))
	}
	// In x order; among ties in x the order does not matter (their terms
	// are 0), and the stable sort keeps it deterministic.
	for m, i := range radixOrder(x) {
		a[m] = pt{x[i], y[i]}
	}
	g := sxy.mulF(float64(n)).add(prod(sx.hi, sy.hi).add(prod(sx.hi, sy.lo)).add(prod(sx.lo, sy.hi)).neg())

	buf := make([]pt, n)
	var f dd
	for w := 1; w < n; w *= 2 {
		merges := (n + 2*w - 1) / (2 * w)
		parts := make([]dd, merges)
		// Each index of the package's loop is a contiguous run of
		// merges, one run per worker.
		per := (merges + workers - 1) / workers
		err := forEach(ctx, workers, (merges+per-1)/per, func(int) func(int) error {
			return func(r int) error {
				for m := r * per; m < min((r+1)*per, merges); m++ {
					l0 := 2 * w * m
					l1 := min(l0+w, n)
					r1 := min(l0+2*w, n)
					parts[m] = mergeCount(a[l0:l1], a[l1:r1], buf[l0:r1])
				}
				return nil
			}
		})
		if err != nil {
			return dd{}, err
		}
		if err := ctx.Err(); err != nil {
			return dd{}, err
		}
		for _, p := range parts {
			f = f.add(p)
		}
		a, buf = buf, a
	}
	return f.mulF(4).add(g.mulF(-2)), nil
}

// mergeCount merges left and right (each sorted by y; every sample of
// left before every sample of right in x) into out by y, and returns
// sum over i in right, j in left with y_j < y_i of (x_i − x_j)(y_i − y_j),
// as cnt·x_i·y_i − x_i·sum y_j − y_i·sum x_j + sum x_j·y_j over the left
// samples below y_i.
func mergeCount(left, right, out []pt) dd {
	var f, sx, sy, sxy dd
	var cnt float64
	i, j, o := 0, 0, 0
	for j < len(right) {
		r := right[j]
		for i < len(left) && left[i].y < r.y {
			l := left[i]
			sx, sy = sx.addF(l.x), sy.addF(l.y)
			sxy = sxy.add(prod(l.x, l.y))
			cnt++
			out[o] = l
			o, i = o+1, i+1
		}
		if cnt > 0 {
			t := prod(r.x, r.y).mulF(cnt).add(sy.mulF(-r.x)).add(sx.mulF(-r.y)).add(sxy)
			f = f.add(t)
		}
		out[o] = r
		o, j = o+1, j+1
	}
	copy(out[o:], left[i:])
	return f
}
