//go:build !purego

package estimator

import "golang.org/x/sys/cpu"

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasAVX {
		outerAdd = outerAddAVX2
	}
}

// outerAddAVX2 is outerAdd with outerAsm for the pairs of rows of c and
// its columns in blocks of 16, outerBlock for the rest.
func outerAddAVX2(c, x, y []float64, m, d, e int) {
	rows, cols := d&^1, e&^15
	if m > 0 && rows > 0 && cols > 0 {
		_ = x[m*d-1]
		_ = y[m*e-1]
		_ = c[d*e-1]
		outerAsm(m, d, e, cols, &x[0], &y[0], &c[0])
	}
	outerBlock(c, x, y, m, d, e, 0, rows, cols, e)
	outerBlock(c, x, y, m, d, e, rows, d, 0, e)
}
