package block

// maxNorm2 returns the largest of r2 and the squared norms of the rows of
// data (row-major, dim values per row) scaled by scale and centred by mu.
// Each squared norm is summed in column order, so the result is the same
// however the rows are split between calls. Plan.ScanBound records it for
// every space on the first pass, and Panel refuses a later row beyond it:
// a cheap check that the data did not change between passes.
func maxNorm2(data []float64, dim int, mu []float64, scale, r2 float64) float64 {
	mu = mu[:dim]
	i := 0
	// Four rows at a time: four independent sums (each in column order)
	// instead of one chain of dependent additions.
	for ; i+4*dim <= len(data); i += 4 * dim {
		x0 := data[i : i+dim]
		x1 := data[i+dim : i+2*dim]
		x2 := data[i+2*dim : i+3*dim]
		x3 := data[i+3*dim : i+4*dim]
		var s0, s1, s2, s3 float64
		for q, m := range mu {
			t0 := x0[q]*scale - m
			t1 := x1[q]*scale - m
			t2 := x2[q]*scale - m
			t3 := x3[q]*scale - m
			s0 += float64(t0 * t0)
			s1 += float64(t1 * t1)
			s2 += float64(t2 * t2)
			s3 += float64(t3 * t3)
		}
		r2 = max(r2, s0, s1, s2, s3)
	}
	for ; i+dim <= len(data); i += dim {
		var d2 float64
		for q, v := range data[i : i+dim] {
			x := v*scale - mu[q]
			d2 += float64(x * x)
		}
		r2 = max(r2, d2)
	}
	return r2
}
