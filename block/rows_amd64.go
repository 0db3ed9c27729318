//go:build !purego

package block

import "golang.org/x/sys/cpu"

// The row kernels uni1, uni2, directRow and absRow: on amd64 with AVX2
// and FMA, the columns in multiples of 4 are computed by the assembly of
// rows_amd64.s (written by asmgen/rows), the rest by the
// Go kernels (uni1Go, …). The results agree with the Go kernels to a few
// ulps per element; sums are accumulated in another order.

// rowAsm reports whether the CPU (and the operating system, which must
// save the YMM registers) runs the assembly row kernels.
func rowAsm() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// uni1 is acc1 fused with the distances a_j = |x - y_j|^α - c, α = 2 if sq
// else 1, of a univariate space.
func uni1(x float64, y, col []float64, c float64, sq bool) (r, s float64) {
	col = col[:len(y)]
	m := len(y) &^ 3
	if m == 0 || !rowAsm() {
		return uni1Go(x, y, col, c, sq)
	}
	r, s = uni1Asm(m, x, c, sq, &y[0], &col[0])
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
	if m == 0 || !rowAsm() {
		return uni2Go(xa, xb, ya, yb, colA, colB, ca, cb, sq)
	}
	ra, rb, saa, sab, sbb = uni2Asm(m, xa, xb, ca, cb, sq, &ya[0], &yb[0], &colA[0], &colB[0])
	ra1, rb1, saa1, sab1, sbb1 := uni2Go(xa, xb, ya[m:], yb[m:], colA[m:], colB[m:], ca, cb, sq)
	return ra + ra1, rb + rb1, saa + saa1, sab + sab1, sbb + sbb1
}

// directRow sets d[j'] = sum_q (xi_q - b_q,j+j')² for the transposed panel
// b (len(xi) × stride).
func directRow(d, xi, b []float64, stride, j int) {
	m := len(d) &^ 3
	if m == 0 || len(xi) == 0 || !rowAsm() {
		directRowGo(d, xi, b, stride, j)
		return
	}
	_ = b[(len(xi)-1)*stride+j+len(d)-1]
	directRowAsm(m, len(xi), &xi[0], &b[j], stride, &d[0])
	directRowGo(d[m:], xi, b, stride, j+m)
}

// absRow sets d[j] = |x - b[j]|^α - c for a one-dimensional space, from
// |x - b[j]| rather than its square (exact for α = 1).
func (p *plan) absRow(d []float64, x float64, b []float64, c float64) {
	b = b[:len(d)]
	m := len(d) &^ 3
	if m == 0 || p.pow != powOne && p.pow != powTwo || !rowAsm() {
		p.absRowGo(d, x, b, c)
		return
	}
	absRowAsm(m, x, c, p.pow == powTwo, &b[0], &d[0])
	p.absRowGo(d[m:], x, b[m:], c)
}

// raiseRow replaces d[:m] by d^(α/2) - c as plan.raise does, bit for bit
// (VSQRTPD is correctly rounded, as math.Sqrt), for α = 2, 1, 0.5 and
// 1.5, and returns m: len(d) rounded down to a multiple of 4 where the CPU
// runs the assembly, else 0 (and 0 for any other α). The rest of d is
// left to raise.
func raiseRow(d []float64, c float64, pow power) int {
	m := len(d) &^ 3
	if m == 0 || !rowAsm() {
		return 0
	}
	mode := modeTwo
	switch pow {
	case powTwo:
	case powOne:
		mode = modeOne
	case powHalf:
		mode = modeHalf
	case powThreeHalves:
		mode = modeThreeHalves
	default:
		return 0
	}
	raiseRowAsm(m, mode, c, &d[0])
	return m
}
