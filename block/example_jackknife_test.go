package block_test

import (
	"context"
	"fmt"
	"math"

	"github.com/dcor-stream/dcor-stream/block"
)

// The exact jackknife standard error of bcdcor, and the SE of the
// difference between two layers' closeness to the same space, from one
// more pass over the tiles.
func ExampleJackknife() {
	n := 200
	x, h3, h4 := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		t := float64(i) / float64(n)
		x[i] = math.Sin(7 * t)
		h3[i] = x[i] + 0.3*math.Cos(91*t)
		h4[i] = x[i]*x[i] + 0.3*math.Sin(53*t)
	}
	spaces := []block.Space{{Data: x, Dim: 1}, {Data: h3, Dim: 1}, {Data: h4, Dim: 1}}
	ctx := context.Background()
	st, err := block.Compute(ctx, spaces, block.Options{})
	if err != nil {
		panic(err)
	}
	jk, err := block.Jackknife(ctx, spaces, st, block.Options{})
	if err != nil {
		panic(err)
	}
	r3, r4 := st.Pair(0, 1).BCDCor, st.Pair(0, 2).BCDCor
	cov := jk.BCDCorCov([][2]int{{0, 1}, {0, 2}})
	fmt.Printf("bcdcor(x, h3) = %.3f ± %.3f\n", r3, math.Sqrt(cov[0][0]))
	fmt.Printf("bcdcor(x, h4) = %.3f ± %.3f\n", r4, math.Sqrt(cov[1][1]))
	fmt.Printf("difference %.3f ± %.3f\n", r3-r4, math.Sqrt(cov[0][0]+cov[1][1]-2*cov[0][1]))
	// Output:
	// bcdcor(x, h3) = 0.907 ± 0.009
	// bcdcor(x, h4) = 0.151 ± 0.015
	// difference 0.757 ± 0.021
}

// Univariate spaces in O(n log n): n = 100,000 exactly in a fraction of a
// second.
func ExampleUnivariate() {
	n := 100000
	x, y := make([]float64, n), make([]float64, n)
	for i := range n {
		t := float64(i)
		x[i] = math.Sin(t)
		y[i] = x[i]*x[i] + 0.1*math.Cos(3*t)
	}
	st, err := block.Univariate(context.Background(), []block.Space{{Data: x, Dim: 1}, {Data: y, Dim: 1}}, block.Options{})
	if err != nil {
		panic(err)
	}
	r := st.Pair(0, 1)
	fmt.Printf("n %d dcor %.6f bcdcor %.6f\n", r.N, r.DCor, r.BCDCor)
	// Output:
	// n 100000 dcor 0.437734 bcdcor 0.191594
}
