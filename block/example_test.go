package block_test

import (
	"context"
	"fmt"

	"github.com/dcor-stream/dcor-stream/block"
)

// Distance correlation of y = x² with x on a symmetric grid: Pearson's
// correlation is 0, dCor is not. (Values checked against a naive double-
// and U-centring of the full distance matrices in Python.)
func ExampleCompute() {
	const n = 101
	x := make([]float64, n)
	y := make([]float64, n)
	for i := range x {
		x[i] = float64(i-n/2) / 10
		y[i] = x[i] * x[i]
	}
	st, err := block.Compute(context.Background(), []block.Space{{Data: x, Dim: 1}, {Data: y, Dim: 1}}, block.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := st.Pair(0, 1)
	fmt.Printf("dCor = %.6f, bcdCor = %.6f\n", r.DCor, r.BCDCor)
	// Output:
	// dCor = 0.491526, bcdCor = 0.219338
}
