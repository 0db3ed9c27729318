//go:build !amd64 || purego

package block

// The row kernels are the Go ones on this build.

func rowAsm() bool { return false }

func uni1(x float64, y, col []float64, c float64, sq bool) (r, s float64) {
	return uni1Go(x, y, col, c, sq)
}

func uni2(xa, xb float64, ya, yb, colA, colB []float64, ca, cb float64, sq bool) (ra, rb, saa, sab, sbb float64) {
	return uni2Go(xa, xb, ya, yb, colA, colB, ca, cb, sq)
}

func directRow(d, xi, b []float64, stride, j int) { directRowGo(d, xi, b, stride, j) }

func (p *plan) absRow(d []float64, x float64, b []float64, c float64) { p.absRowGo(d, x, b, c) }

func raiseRow(d []float64, c float64, pow power) int { return 0 }
