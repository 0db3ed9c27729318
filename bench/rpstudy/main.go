// Command rpstudy compares, at equal CPU time, the random-projection
// estimator of bcdcor (Huang & Huo 2017, DESIGN §6) with the block
// estimator, by their error against the exact value of the same data
// (bench/beyond.sh). It is a study, not a shipped estimator: the projection
// estimator is written here, from block.Univariate.
//
// Random projections: for each of K draws, u, u' uniform on the sphere of
// R^p and v, v' on that of R^q, the univariate U-statistics
// U(uᵀX, vᵀY), U(uᵀX, u'ᵀX) and U(vᵀY, v'ᵀY) by the exact O(n log n) path;
// since |x| = C_p·E_u|uᵀx|, their means times C_p·C_q, C_p² and C_q² are
// unbiased for the full-sample U(X,Y), U(X,X) and U(Y,Y) (independent
// directions in each product), and R* of the means needs no constant. Its
// SE is the delete-one-projection jackknife over the K projections'
// triples.
//
// Cases: y = a·tanh(x·W/sqrt(p)) + 0.5·e for a signal a (1: strong,
// 0.1: weak, 0: independent).
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"syscall"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

func main() {
	n := flag.Int("n", 100000, "samples")
	p := flag.Int("p", 8, "dimension of x")
	q := flag.Int("q", 8, "dimension of y")
	a := flag.Float64("signal", 1, "signal a of y = a·tanh(xW/sqrt p) + 0.5e")
	k := flag.Int("projections", 16, "projections K per rp estimate")
	reps := flag.Int("reps", 5, "estimates of each kind (seeds)")
	flag.Parse()
	if err := run(context.Background(), *n, *p, *q, *a, *k, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "rpstudy:", err)
		os.Exit(1)
	}
}

func data(n, p, q int, a float64) []stream.Space {
	rng := rand.New(rand.NewPCG(7, 2026))
	w := make([]float64, p*q)
	for i := range w {
		w[i] = rng.NormFloat64() / math.Sqrt(float64(p))
	}
	x, y := make([]float64, n*p), make([]float64, n*q)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for i := range n {
		for c := range q {
			var s float64
			for k := range p {
				s += x[i*p+k] * w[k*q+c]
			}
			y[i*q+c] = a*math.Tanh(s) + 0.5*rng.NormFloat64()
		}
	}
	return []stream.Space{{Name: "x", Dim: p, Data: x}, {Name: "y", Dim: q, Data: y}}
}

func cpu() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// project returns x·u for a random unit u.
func project(rng *rand.Rand, x []float64, d int) []float64 {
	u := make([]float64, d)
	var s float64
	for i := range u {
		u[i] = rng.NormFloat64()
		s += u[i] * u[i]
	}
	n := len(x) / d
	out := make([]float64, n)
	for i := range n {
		var v float64
		for j, uj := range u {
			v += x[i*d+j] * uj
		}
		out[i] = v / math.Sqrt(s)
	}
	return out
}

// rp returns the random-projection estimate of bcdcor and its SE.
func rp(ctx context.Context, sp []stream.Space, k int, seed uint64) (float64, float64, error) {
	rng := rand.New(rand.NewPCG(seed, 99))
	var tr [][3]float64 // per projection: U_xx, U_xy, U_yy
	for range k {
		ux, vy := project(rng, sp[0].Data, sp[0].Dim), project(rng, sp[1].Data, sp[1].Dim)
		ux2, vy2 := project(rng, sp[0].Data, sp[0].Dim), project(rng, sp[1].Data, sp[1].Dim)
		st, err := block.Univariate(ctx, []block.Space{{Data: ux, Dim: 1}, {Data: vy, Dim: 1}, {Data: ux2, Dim: 1}, {Data: vy2, Dim: 1}}, block.Options{})
		if err != nil {
			return 0, 0, err
		}
		uxy, _ := st.U(0, 1)
		uxx, _ := st.U(0, 2)
		uyy, _ := st.U(1, 3)
		// The spaces' scales differ: unscaled through R*, which is
		// scale-free per space only if x's two projections share one
		// scale; the ratio uxy²/(uxx·uyy) is invariant, so form it from
		// the scaled values with the scale exponents.
		sx, sy, sx2, sy2 := st.Scale(0), st.Scale(1), st.Scale(2), st.Scale(3)
		uxy = math.Ldexp(uxy, sx+sy)
		uxx = math.Ldexp(uxx, sx+sx2)
		uyy = math.Ldexp(uyy, sy+sy2)
		tr = append(tr, [3]float64{uxx, uxy, uyy})
	}
	rstar := func(skip int) float64 {
		var m [3]float64
		for i, t := range tr {
			if i != skip {
				for j := range m {
					m[j] += t[j]
				}
			}
		}
		if !(m[0] > 0 && m[2] > 0) {
			return 0
		}
		return m[1] / math.Sqrt(m[0]*m[2])
	}
	theta := rstar(-1)
	var loo []float64
	var mean float64
	for i := range tr {
		loo = append(loo, rstar(i))
		mean += loo[i] / float64(len(tr))
	}
	var ss float64
	for _, v := range loo {
		ss += (v - mean) * (v - mean)
	}
	return theta, math.Sqrt(float64(len(tr)-1) / float64(len(tr)) * ss), nil
}

func run(ctx context.Context, n, p, q int, a float64, k, reps int) error {
	sp := data(n, p, q, a)
	c0 := cpu()
	exact, err := job.Run(ctx, job.Spec{Data: sp})
	if err != nil {
		return err
	}
	truth := exact.Pair.BCDCor
	fmt.Printf("n = %d, p = %d, q = %d, signal %g: exact bcdcor %.8f (%.1f CPU s)\n", n, p, q, a, truth, cpu()-c0)
	var rpCPU, rpSE, rpSS float64
	for s := range reps {
		c0 := cpu()
		v, se, err := rp(ctx, sp, k, uint64(s+1))
		if err != nil {
			return err
		}
		rpCPU += cpu() - c0
		rpSE += se
		rpSS += (v - truth) * (v - truth)
	}
	rpCPU /= float64(reps)
	fmt.Printf("  rp K = %d: %.2f CPU s; RMS error vs exact %.2e, mean SE %.2e\n", k, rpCPU, math.Sqrt(rpSS/float64(reps)), rpSE/float64(reps))
	// Blocks at about the same CPU: cost ∝ B; calibrate on B = 1,000.
	c0 = cpu()
	if _, err := job.Run(ctx, job.Spec{Data: sp, Estimator: "blocks", Block: 1000, Shuffle: true, ShuffleSeed: 1}); err != nil {
		return err
	}
	b := max(4, min(n/4, int(1000*rpCPU/(cpu()-c0))))
	var bCPU, bSE, bSS float64
	for s := range reps {
		c0 := cpu()
		out, err := job.Run(ctx, job.Spec{Data: sp, Estimator: "blocks", Block: b, Shuffle: true, ShuffleSeed: uint64(s + 1)})
		if err != nil {
			return err
		}
		bCPU += cpu() - c0
		bSE += out.Blocks.BCDCorSE
		bSS += (out.Blocks.BCDCor - truth) * (out.Blocks.BCDCor - truth)
	}
	fmt.Printf("  blocks B = %d: %.2f CPU s; RMS error vs exact %.2e, mean SE %.2e\n", b, bCPU/float64(reps), math.Sqrt(bSS/float64(reps)), bSE/float64(reps))
	return nil
}
