package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/block"
)

// The seed paper's formulas (Zhen et al. 2022, Partial_DC.py), written
// out densely for small n: what its heatmap script (New_DC, summed over
// the batches of a shuffling loader), its partial table (P_DC, averaged)
// and its training loss (Distance_Correlation) compute.

// paperDist is the matrix of Euclidean distances, with eps added to each
// squared distance before the square root (0 for New_DC and P_DC, 1e-12
// in Distance_Correlation).
func paperDist(x [][]float64, eps float64) [][]float64 {
	n := len(x)
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n)
		for j := range a[i] {
			var s float64
			for k := range x[i] {
				d := x[i][k] - x[j][k]
				s += d * d
			}
			a[i][j] = math.Sqrt(s + eps)
		}
	}
	return a
}

// paperU is P_Distance_Matrix: the U-centred distance matrix (row and
// column sums over n-2, the total over (n-1)(n-2)), diagonal zeroed.
func paperU(x [][]float64) [][]float64 {
	a := paperDist(x, 0)
	n := len(a)
	rows := make([]float64, n)
	var total float64
	for i := range a {
		for j := range a[i] {
			rows[i] += a[i][j]
		}
		total += rows[i]
	}
	for i := range a {
		for j := range a[i] {
			if i == j {
				a[i][j] = 0
				continue
			}
			a[i][j] = a[i][j] - rows[j]/float64(n-2) - rows[i]/float64(n-2) + total/float64((n-1)*(n-2))
		}
	}
	return a
}

// paperBracket is bracket_op: the sum of A∘B over n(n-3).
func paperBracket(a, b [][]float64) float64 {
	n := len(a)
	var s float64
	for i := range a {
		for j := range a[i] {
			s += a[i][j] * b[i][j]
		}
	}
	return s / float64(n*(n-3))
}

// paperCorrelation is Correlation, with its epsilon.
func paperCorrelation(a, b [][]float64) float64 {
	return paperBracket(a, b) / math.Sqrt(paperBracket(a, a)*paperBracket(b, b)+1e-18)
}

// paperNewDC is New_DC(x, y).
func paperNewDC(x, y [][]float64) float64 { return paperCorrelation(paperU(x), paperU(y)) }

// paperPDC is P_DC(a, b, gt): the U-centred matrix of a with its
// projection on b's removed, correlated with gt's.
func paperPDC(a, b, gt [][]float64) float64 {
	A, B, G := paperU(a), paperU(b), paperU(gt)
	c := paperBracket(A, B) / paperBracket(B, B)
	for i := range A {
		for j := range A[i] {
			A[i][j] -= c * B[i][j]
		}
	}
	return paperCorrelation(A, G)
}

// paperLoss is Distance_Correlation(x, y): rows normalised (F.normalize,
// norm floored at 1e-12), distances with eps1 (the paper: 1e-12) under the
// root, double centring by means, and Γxy/sqrt(Γxx·Γyy + eps2) (the paper:
// 1e-9): the V-statistic dCor² with two epsilons.
func paperLoss(x, y [][]float64, eps1, eps2 float64) float64 {
	norm := func(x [][]float64) [][]float64 {
		out := make([][]float64, len(x))
		for i, r := range x {
			var s float64
			for _, v := range r {
				s += v * v
			}
			d := max(math.Sqrt(s), 1e-12)
			for _, v := range r {
				out[i] = append(out[i], v/d)
			}
		}
		return out
	}
	centre := func(a [][]float64) [][]float64 {
		n := float64(len(a))
		rows := make([]float64, len(a))
		var total float64
		for i := range a {
			for j := range a[i] {
				rows[i] += a[i][j]
			}
			total += rows[i]
		}
		for i := range a {
			for j := range a[i] {
				a[i][j] = a[i][j] - rows[j]/n - rows[i]/n + total/(n*n)
			}
		}
		return a
	}
	A, B := centre(paperDist(norm(x), eps1)), centre(paperDist(norm(y), eps1))
	mean := func(a, b [][]float64) float64 {
		var s float64
		for i := range a {
			for j := range a[i] {
				s += a[i][j] * b[i][j]
			}
		}
		return s / float64(len(a)*len(a))
	}
	return mean(A, B) / math.Sqrt(mean(A, A)*mean(B, B)+eps2)
}

// seedData writes three spaces of n samples as float64 .npy files: mlp
// and cnn, two "networks" that see a class label and noise, and gt, the
// label's embedding; it returns their paths and rows.
func seedData(t *testing.T, n int) (paths [3]string, rows [3][][]float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(2022, 16))
	const classes, embed = 5, 3
	emb := make([][]float64, classes)
	for c := range emb {
		for range embed {
			emb[c] = append(emb[c], rng.NormFloat64())
		}
	}
	dims := [3]int{12, 9, embed}
	dir := t.TempDir()
	for i := range n {
		c := rng.IntN(classes)
		for s, d := range dims {
			row := make([]float64, d)
			for k := range row {
				switch s {
				case 2:
					row[k] = emb[c][k]
				default:
					row[k] = emb[c][k%embed]*float64(s+1) + rng.NormFloat64()*0.5*(1+float64(k%4))
				}
			}
			rows[s] = append(rows[s], row)
		}
		_ = i
	}
	for s, name := range []string{"mlp_h3", "cnn_c2", "labels"} {
		var b []byte
		for _, r := range rows[s] {
			for _, v := range r {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			}
		}
		paths[s] = filepath.Join(dir, name+".npy")
		writeNpy(t, paths[s], "<f8", fmt.Sprintf("(%d, %d)", n, dims[s]), b)
	}
	return paths, rows
}

// seedJSON is the part of the matrix JSON these tests read.
type seedJSON struct {
	Rows        []string    `json:"rows"`
	Cols        []string    `json:"cols"`
	Given       string      `json:"given"`
	BCDCor      [][]float64 `json:"bcdcor"`
	DCorSq      [][]float64 `json:"dcor_sq"`
	SemiPartial [][]float64 `json:"semi_partial"`
	PValue      [][]float64 `json:"p_value"`
	Estimator   string      `json:"estimator"`
	Minibatch   struct {
		Size, Batches int
		Seed          *uint64         `json:"shuffle_seed"`
		OrderCheck    json.RawMessage `json:"order_check"`
	} `json:"minibatch"`
}

func runSeedJSON(t *testing.T, args ...string) seedJSON {
	t.Helper()
	code, stdout, stderr := runCLI(t, nil, args...)
	if code != 0 {
		t.Fatalf("dcor-stream %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	var m seedJSON
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("dcor-stream %s: %v in %s", strings.Join(args, " "), err, stdout)
	}
	return m
}

// TestSeedPaperMinibatch is the mapping of the README's "Reproducing the
// seed paper": with -minibatch 128, bcdcor(mlp, cnn) is the mean over the
// batches of the paper's New_DC(mlp, cnn), and semi_partial (row mlp, col
// cnn, given gt) the mean of its P_DC(mlp, cnn, gt) — over consecutive
// rows, and with -shuffle SEED over the rows in the order of
// block.NewPermutation(n, SEED), the last, short batch included as the
// paper's loader keeps it; in the matrix command (named spaces) and in
// the pair mode (-x mlp -y cnn -z gt: the same numbers).
func TestSeedPaperMinibatch(t *testing.T) {
	const n, batch = 600, 128 // 4 full batches and one of 88
	paths, rows := seedData(t, n)
	for _, seed := range []*uint64{nil, ptr(uint64(5))} {
		var order []int
		extra := []string{}
		for i := range n {
			order = append(order, i)
		}
		if seed != nil {
			order = block.NewPermutation(n, *seed).Of(0)
			extra = []string{"-shuffle", fmt.Sprint(*seed)}
		}
		var newDC, pDC float64
		batches := 0
		for i0 := 0; i0 < n; i0 += batch {
			var b [3][][]float64
			for _, i := range order[i0:min(n, i0+batch)] {
				for s := range b {
					b[s] = append(b[s], rows[s][i])
				}
			}
			newDC += paperNewDC(b[0], b[1])
			pDC += paperPDC(b[0], b[1], b[2])
			batches++
		}
		newDC /= float64(batches)
		pDC /= float64(batches)
		matrix := runSeedJSON(t, append([]string{"matrix", "-format", "json", "-quiet", "-rows", "mlp=" + paths[0], "-cols", "cnn=" + paths[1], "-given", "gt=" + paths[2], "-minibatch", "128"}, extra...)...)
		pair := runSeedJSON(t, append([]string{"-format", "json", "-quiet", "-x", "mlp=" + paths[0], "-y", "cnn=" + paths[1], "-z", "gt=" + paths[2], "-minibatch", "128"}, extra...)...)
		for name, m := range map[string]seedJSON{"matrix": matrix, "pair": pair} {
			if strings.Join(m.Rows, ",") != "mlp" || strings.Join(m.Cols, ",") != "cnn" || m.Given != "gt" {
				t.Errorf("%s: rows %q, cols %q, given %q; want [mlp], [cnn], gt", name, m.Rows, m.Cols, m.Given)
			}
			if m.Minibatch.Batches != batches || m.PValue != nil || !strings.Contains(m.Estimator, "minibatch mean") {
				t.Errorf("%s: %d batches, p_value %v, estimator %q; want %d batches, no p_value, the minibatch label", name, m.Minibatch.Batches, m.PValue, m.Estimator, batches)
			}
			if (seed != nil) != (m.Minibatch.Seed != nil) || (seed == nil) != (m.Minibatch.OrderCheck != nil) {
				t.Errorf("%s: shuffle seed %v, order check %s; want the seed when shuffled, the order check when not", name, m.Minibatch.Seed, m.Minibatch.OrderCheck)
			}
			if len(m.BCDCor) != 1 || len(m.SemiPartial) != 1 {
				t.Fatalf("%s: bcdcor %v, semi_partial %v: want 1×1", name, m.BCDCor, m.SemiPartial)
			}
			if d := math.Abs(m.BCDCor[0][0] - newDC); d > 1e-12 {
				t.Errorf("%s (shuffle %v): bcdcor %.15g, the paper's mean New_DC %.15g (diff %.2g)", name, seed != nil, m.BCDCor[0][0], newDC, d)
			}
			if d := math.Abs(m.SemiPartial[0][0] - pDC); d > 1e-12 {
				t.Errorf("%s (shuffle %v): semi_partial %.15g, the paper's mean P_DC %.15g (diff %.2g)", name, seed != nil, m.SemiPartial[0][0], pDC, d)
			}
		}
		t.Logf("shuffle %v: New_DC mean %.6f, P_DC mean %.6f over %d batches", seed != nil, newDC, pDC, batches)
	}
}

// TestSeedPaperLoss: the paper's training loss, Distance_Correlation, is
// the V-statistic dcor_sq with -normalize-rows: to 1e-12 without its two
// epsilons, and with them (1e-12 under each distance's root, 1e-9 beside
// Γxx·Γyy) within 1e-6: 1.9e-7 here (5.5e-7 relative), as the README says.
func TestSeedPaperLoss(t *testing.T) {
	const n = 128
	paths, rows := seedData(t, n)
	m := runSeedJSON(t, "matrix", "-format", "json", "-quiet", "-rows", "mlp="+paths[0], "-cols", "cnn="+paths[1], "-normalize-rows")
	got := m.DCorSq[0][0]
	if plain := paperLoss(rows[0], rows[1], 0, 0); math.Abs(got-plain) > 1e-12 {
		t.Errorf("dcor_sq with -normalize-rows %.15g, the paper's Distance_Correlation without epsilons %.15g", got, plain)
	}
	loss := paperLoss(rows[0], rows[1], 1e-12, 1e-9)
	d := math.Abs(got - loss)
	t.Logf("dcor_sq %.15g, Distance_Correlation %.15g: differ by %.2g (%.2g relative)", got, loss, d, d/got)
	if d > 1e-6 || d == 0 {
		t.Errorf("dcor_sq with -normalize-rows %.15g, the paper's Distance_Correlation %.15g: differ by %.2g, want (0, 1e-6]", got, loss, d)
	}
	// The pair mode takes -normalize-rows too, with the same result.
	if p := pairJSON(t, "-quiet", "-normalize-rows", "-x", paths[0], "-y", paths[1]); p["dcor_sq"].(float64) != got {
		t.Errorf("pair mode -normalize-rows: dcor_sq %v, matrix %v", p["dcor_sq"], got)
	}
	if raw := runSeedJSON(t, "matrix", "-format", "json", "-quiet", "-rows", "mlp="+paths[0], "-cols", "cnn="+paths[1]); math.Abs(raw.DCorSq[0][0]-loss) < 10*d {
		t.Errorf("without -normalize-rows, dcor_sq %.15g is as close to the loss %.15g: the test cannot tell", raw.DCorSq[0][0], loss)
	}
}

func ptr[T any](v T) *T { return &v }

// TestHelpNamesFormats: -h of both commands names every input format and
// the minibatch flags, so that a user of .npy files finds them.
func TestHelpNamesFormats(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"matrix", "-h"}} {
		code, _, stderr := runCLI(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, want := range []string{"Arrow IPC", "Parquet", ".npy", "CSV", "-minibatch", "-shuffle", "-normalize-rows", "NAME="} {
			if !strings.Contains(stderr, want) {
				t.Errorf("dcor-stream %s does not mention %q", strings.Join(args, " "), want)
			}
		}
	}
}

// TestMinibatchFlags: the usage errors of -minibatch and -shuffle, in both
// modes (exit 2).
func TestMinibatchFlags(t *testing.T) {
	paths, _ := seedData(t, 40)
	for _, args := range [][]string{
		{"-x", paths[0], "-y", paths[1], "-shuffle", "3"},
		{"-x", paths[0], "-y", paths[1], "-minibatch", "3"},
		{"-x", paths[0], "-y", paths[1], "-minibatch", "8", "-every", "10"},
		{"-x", paths[0], "-y", paths[1], "-minibatch", "8", "-ci"},
		{"-x", paths[0], "-y", paths[1], "-minibatch", "8", "-shuffle", "-1"},
		{"matrix", "-spaces", paths[0], "-minibatch", "8", "-mem", "1GiB"},
		{"matrix", "-spaces", paths[0], "-shuffle", "1"},
	} {
		if code, _, stderr := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, stderr)
		}
	}
}
