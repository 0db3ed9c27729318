package estimator

// outerAdd adds to c (d×e, row-major) the products of the m rows of x
// (m×d) and y (m×e): c[q·e+r] += x[i·d+q]·y[i·e+r], i = 0..m−1 in order,
// each product rounded on its own (no fused multiply-add). Every
// implementation gives the same bits: the AVX2 kernel where the CPU runs
// it (outer_amd64.go), else outerAddGo.
var outerAdd = outerAddGo

// outerAddGo is outerAdd in Go.
func outerAddGo(c, x, y []float64, m, d, e int) { outerBlock(c, x, y, m, d, e, 0, d, 0, e) }

// outerBlock is outerAdd for the rows [q0, q1) and the columns [r0, r1)
// of c.
func outerBlock(c, x, y []float64, m, d, e, q0, q1, r0, r1 int) {
	if q0 >= q1 || r0 >= r1 {
		return
	}
	for i := range m {
		xi, yi := x[i*d+q0:i*d+q1], y[i*e+r0:i*e+r1]
		for q, xv := range xi {
			row := c[(q0+q)*e+r0 : (q0+q)*e+r1]
			for r, yv := range yi {
				row[r] += float64(xv * yv)
			}
		}
	}
}
