package block

// maxNorm2 returns the largest of r2 and the squared norms of the rows of
// data (row-major, dim values per row) scaled by scale and centred by mu.
// Each squared norm is summed in column order, so the result is the same
// however the rows are split between calls. Plan.ScanBound records it for
// every space on the first pass, and Panel refuses a later row beyond it:
// a cheap check that the data did not change between passes.
func maxNorm2(data []float64, dim int, mu []float64, scale, r2 float64) float64 {
	for i := 0; i+dim <= len(data); i += dim {
		var d2 float64
		for q, v := range data[i : i+dim] {
			x := v*scale - mu[q]
			d2 += float64(x * x)
		}
		r2 = max(r2, d2)
	}
	return r2
}
