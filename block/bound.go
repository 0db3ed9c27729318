package block

import "math"

// boundMargin covers the rounding of computed distances above 2R_k.
const boundMargin = 1 + 0x1p-20

// bounds returns B_k >= max_{i != j} |a^k_ij − c_k|, which fixes the
// fixed-point grids of the state (see estimator.New). With R_k the largest
// norm of a centred row of space k, every distance is at most 2R_k, so
//
//	|a^k_ij − c_k| <= max((2R_k)^α − c_k, c_k)      (c_k >= 0)
//
// It is one pass over the data, O(n × Dim). A constant space gets B_k = 1
// (all its sums are 0 whatever the grid).
func (p *plan) bounds() []float64 {
	r2 := make([]float64, p.k)
	for k, s := range p.spaces {
		r2[k] = maxNorm2(s.Data[:p.n*s.Dim], s.Dim, p.mean[k], 0)
	}
	return p.boundsFrom(r2)
}

// maxNorm2 returns the largest of r2 and the squared norms of the rows of
// data (row-major, dim values per row) centred by mu. Each squared norm is
// summed in column order, so the result is the same however the rows are
// split between calls.
func maxNorm2(data []float64, dim int, mu []float64, r2 float64) float64 {
	for i := 0; i+dim <= len(data); i += dim {
		var d2 float64
		for q, v := range data[i : i+dim] {
			x := v - mu[q]
			d2 += x * x
		}
		r2 = max(r2, d2)
	}
	return r2
}

// boundsFrom returns the bounds B_k of bounds from R_k² = r2[k].
func (p *plan) boundsFrom(r2 []float64) []float64 {
	b := make([]float64, p.k)
	for k := range b {
		diam := 2 * math.Sqrt(r2[k]) * boundMargin
		b[k] = max(math.Pow(diam, p.alpha)*boundMargin-p.shift[k], p.shift[k])
		if !(b[k] > 0) {
			b[k] = 1
		}
	}
	return b
}
