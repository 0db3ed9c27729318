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
	b := make([]float64, p.k)
	for k, s := range p.spaces {
		var r2 float64
		mu := p.mean[k]
		for i := range p.n {
			var d2 float64
			for q, v := range s.Data[i*s.Dim : (i+1)*s.Dim] {
				x := v - mu[q]
				d2 += x * x
			}
			r2 = max(r2, d2)
		}
		diam := 2 * math.Sqrt(r2) * boundMargin
		b[k] = max(math.Pow(diam, p.alpha)*boundMargin-p.shift[k], p.shift[k])
		if !(b[k] > 0) {
			b[k] = 1
		}
	}
	return b
}
