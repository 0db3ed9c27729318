//go:build !purego

package block

import "golang.org/x/sys/cpu"

// On amd64 with AVX2 and FMA, the block kernels of the row kernels (see
// rows.go) are the assembly of rows_amd64.s (written by asmgen/rows);
// without them, their Go twins, which give the same bits.

// rowAsm reports whether the CPU (and the operating system, which must
// save the YMM registers) runs the assembly row kernels.
func rowAsm() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// uni1Block is uni1 for len(y) a multiple of 4 (> 0).
func uni1Block(x float64, y, col []float64, c float64, sq bool) (r, s float64) {
	if !rowAsm() {
		return uni1Lanes(x, y, col, c, sq)
	}
	col = col[:len(y)]
	return uni1Asm(len(y), x, c, sq, &y[0], &col[0])
}

// uni2Block is uni2 for len(ya) a multiple of 4 (> 0).
func uni2Block(xa, xb float64, ya, yb, colA, colB []float64, ca, cb float64, sq bool) (ra, rb, saa, sab, sbb float64) {
	if !rowAsm() {
		return uni2Lanes(xa, xb, ya, yb, colA, colB, ca, cb, sq)
	}
	n := len(ya)
	yb, colA, colB = yb[:n], colA[:n], colB[:n]
	return uni2Asm(n, xa, xb, ca, cb, sq, &ya[0], &yb[0], &colA[0], &colB[0])
}

// directRowBlock is directRow for len(d) a multiple of 4 (> 0) and
// len(xi) > 0; the caller checks the bounds of b.
func directRowBlock(d, xi, b []float64, stride, j int) {
	if !rowAsm() {
		directRowLanes(d, xi, b, stride, j)
		return
	}
	directRowAsm(len(d), len(xi), &xi[0], &b[j], stride, &d[0])
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
