package block

import "math"

// The row kernels uni1, uni2, directRow and absRow. Each computes its
// first len &^ 3 columns with a block kernel (uni1Block, …: the AVX2
// assembly of rows_amd64.s where the CPU runs it, else its Go twin in
// this file, which adds in the same order with the same fused
// multiply-adds) and the last len % 4 columns with the Go kernels of
// kernel.go (uni1Go, …). So every CPU and build gives the same bits.

// uni1 is acc1 fused with the distances a_j = |x - y_j|^α - c, α = 2 if sq
// else 1, of a univariate space.
func uni1(x float64, y, col []float64, c float64, sq bool) (r, s float64) {
	col = col[:len(y)]
	m := len(y) &^ 3
	if m == 0 {
		return uni1Go(x, y, col, c, sq)
	}
	r, s = uni1Block(x, y[:m], col[:m], c, sq)
	r1, s1 := uni1Go(x, y[m:], col[m:], c, sq)
	return r + r1, s + s1
}

// uni2 returns the sums of a, b, a², ab and b² and adds a to colA and b
// to colB, for the distances a_j = |xa - ya_j|^α - ca and
// b_j = |xb - yb_j|^α - cb of two univariate spaces, α = 2 if sq else 1.
func uni2(xa, xb float64, ya, yb, colA, colB []float64, ca, cb float64, sq bool) (ra, rb, saa, sab, sbb float64) {
	n := len(ya)
	yb, colA, colB = yb[:n], colA[:n], colB[:n]
	m := n &^ 3
	if m == 0 {
		return uni2Go(xa, xb, ya, yb, colA, colB, ca, cb, sq)
	}
	ra, rb, saa, sab, sbb = uni2Block(xa, xb, ya[:m], yb[:m], colA[:m], colB[:m], ca, cb, sq)
	ra1, rb1, saa1, sab1, sbb1 := uni2Go(xa, xb, ya[m:], yb[m:], colA[m:], colB[m:], ca, cb, sq)
	return ra + ra1, rb + rb1, saa + saa1, sab + sab1, sbb + sbb1
}

// directRow sets d[j'] = sum_q (xi_q - b_q,j+j')² for the transposed panel
// b (len(xi) × stride).
func directRow(d, xi, b []float64, stride, j int) {
	m := len(d) &^ 3
	if m == 0 || len(xi) == 0 {
		directRowGo(d, xi, b, stride, j)
		return
	}
	_ = b[(len(xi)-1)*stride+j+len(d)-1]
	directRowBlock(d[:m], xi, b, stride, j)
	directRowGo(d[m:], xi, b, stride, j+m)
}

// uni1Lanes is uni1Block in Go, for len(y) a multiple of 4: the order of
// uni1Asm. Column j is in lane j mod 4; blocks of 16 columns (four
// vectors a0..a3 of 4) add (a0+a1)+(a2+a3) to the row sums and
// fma(a1, a1, a0·a0) + fma(a3, a3, a2·a2) to the sums of squares, the
// last len mod 16 columns one vector at a time (a, then fma(a, a, ·));
// the 4 lanes are added as (l0+l2) + (l1+l3).
func uni1Lanes(x float64, y, col []float64, c float64, sq bool) (r, s float64) {
	n := len(y)
	col = col[:n]
	dist := func(v float64) float64 {
		t := x - v
		if sq {
			return float64(t*t) - c
		}
		return math.Abs(t) - c
	}
	var rs, ss [4]float64
	j := 0
	for ; j+16 <= n; j += 16 {
		var a [4][4]float64
		for h := range 4 {
			for l := range 4 {
				a[h][l] = dist(y[j+4*h+l])
				col[j+4*h+l] += a[h][l]
			}
		}
		for l := range 4 {
			s01 := math.FMA(a[1][l], a[1][l], float64(a[0][l]*a[0][l]))
			s23 := math.FMA(a[3][l], a[3][l], float64(a[2][l]*a[2][l]))
			ss[l] += s01 + s23
			rs[l] += (a[0][l] + a[1][l]) + (a[2][l] + a[3][l])
		}
	}
	for ; j < n; j += 4 {
		for l := range 4 {
			a := dist(y[j+l])
			col[j+l] += a
			rs[l] += a
			ss[l] = math.FMA(a, a, ss[l])
		}
	}
	return (rs[0] + rs[2]) + (rs[1] + rs[3]), (ss[0] + ss[2]) + (ss[1] + ss[3])
}

// uni2Lanes is uni2Block in Go, for len(ya) a multiple of 4: the order of
// uni2Asm. Column j is in lane j mod 4; blocks of 8 columns (vectors a0,
// a1 and b0, b1) add a0+a1, b0+b1, fma(a1, a1, a0·a0), fma(a1, b1, a0·b0)
// and fma(b1, b1, b0·b0) to the sums, a last vector of 4 adds a, b and
// its fused products; the lanes are added as (l0+l2) + (l1+l3).
func uni2Lanes(xa, xb float64, ya, yb, colA, colB []float64, ca, cb float64, sq bool) (ra, rb, saa, sab, sbb float64) {
	n := len(ya)
	yb, colA, colB = yb[:n], colA[:n], colB[:n]
	dist := func(x, v, c float64) float64 {
		t := x - v
		if sq {
			return float64(t*t) - c
		}
		return math.Abs(t) - c
	}
	var sa, sb, sab2, saa2, sbb2 [4]float64
	j := 0
	for ; j+8 <= n; j += 8 {
		var a0, a1, b0, b1 [4]float64
		for l := range 4 {
			a0[l], a1[l] = dist(xa, ya[j+l], ca), dist(xa, ya[j+4+l], ca)
			b0[l], b1[l] = dist(xb, yb[j+l], cb), dist(xb, yb[j+4+l], cb)
		}
		for l := range 4 {
			colA[j+l] += a0[l]
			colA[j+4+l] += a1[l]
			colB[j+l] += b0[l]
			colB[j+4+l] += b1[l]
		}
		for l := range 4 {
			saa2[l] += math.FMA(a1[l], a1[l], float64(a0[l]*a0[l]))
			sab2[l] += math.FMA(a1[l], b1[l], float64(a0[l]*b0[l]))
			sbb2[l] += math.FMA(b1[l], b1[l], float64(b0[l]*b0[l]))
			sa[l] += a0[l] + a1[l]
			sb[l] += b0[l] + b1[l]
		}
	}
	if j < n {
		for l := range 4 {
			a, b := dist(xa, ya[j+l], ca), dist(xb, yb[j+l], cb)
			colA[j+l] += a
			colB[j+l] += b
			sa[l] += a
			sb[l] += b
			saa2[l] = math.FMA(a, a, saa2[l])
			sab2[l] = math.FMA(a, b, sab2[l])
			sbb2[l] = math.FMA(b, b, sbb2[l])
		}
	}
	h := func(v [4]float64) float64 { return (v[0] + v[2]) + (v[1] + v[3]) }
	return h(sa), h(sb), h(saa2), h(sab2), h(sbb2)
}

// directRowLanes is directRowBlock in Go: d[j'] = sum_q (xi_q -
// b_q,j+j')², accumulated in q order by fused multiply-adds from 0, as
// directRowAsm does.
func directRowLanes(d, xi, b []float64, stride, j int) {
	for jj := range d {
		var v float64
		for q, x := range xi {
			t := x - b[q*stride+j+jj]
			v = math.FMA(t, t, v)
		}
		d[jj] = v
	}
}
