//go:build !amd64 || purego

package block

// The block kernels of the row kernels (see rows.go) are the Go ones on
// this build; absRow and raise, element by element, need no twin.

func rowAsm() bool { return false }

func uni1Block(x float64, y, col []float64, c float64, sq bool) (r, s float64) {
	return uni1Lanes(x, y, col, c, sq)
}

func uni2Block(xa, xb float64, ya, yb, colA, colB []float64, ca, cb float64, sq bool) (ra, rb, saa, sab, sbb float64) {
	return uni2Lanes(xa, xb, ya, yb, colA, colB, ca, cb, sq)
}

func directRowBlock(d, xi, b []float64, stride, j int) { directRowLanes(d, xi, b, stride, j) }

func (p *plan) absRow(d []float64, x float64, b []float64, c float64) { p.absRowGo(d, x, b, c) }

func raiseRow(d []float64, c float64, pow power) int { return 0 }
