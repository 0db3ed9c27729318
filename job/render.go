package job

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// The readable renderings of the results (the JSON is their MarshalJSON):
// what the command prints, here so that a program can print the same.

// field is one named output value with its definition.
type field struct {
	key   string
	value float64
	def   string
}

func fields(r *Pair) (pair, partial []field) {
	p := r.Result
	pair = []field{
		{"bcdcor", p.BCDCor, "bias-corrected dCor² R*(X,Y), U-statistic, in [-1, 1]; 0 under independence"},
		{"t_stat", p.T, "t statistic of the test of independence (Székely & Rizzo 2013)"},
		{"t_df", p.DF, "its degrees of freedom n(n-3)/2 - 1"},
		{"p_value", p.P, "upper-tail p-value Pr(t_df > t_stat)"},
		{"dcov_u", p.DCovU, "unbiased dCov² U(X,Y)"},
		{"dvar_x_u", p.DVarXU, "unbiased dVar² U(X,X)"},
		{"dvar_y_u", p.DVarYU, "unbiased dVar² U(Y,Y)"},
		{"dcor", p.DCor, "dCor(X,Y), V-statistic, in [0, 1] (R energy::dcor); biased upward in high dimension"},
		{"dcor_sq", p.DCorSq, "dCor²(X,Y) = dcov_sq / sqrt(dvar_x_sq · dvar_y_sq)"},
		{"dcov", p.DCov, "dCov(X,Y) = sqrt(dcov_sq) (R energy::dcov)"},
		{"dcov_sq", p.DCovSq, "V²(X,Y), V-statistic"},
		{"dvar_x_sq", p.DVarXSq, "V²(X,X)"},
		{"dvar_y_sq", p.DVarYSq, "V²(Y,Y)"},
	}
	if q := r.Partial; q != nil {
		partial = []field{
			{"pdcor", q.PDCor, "partial dCor of X and Y given Z (Székely & Rizzo 2014), in [-1, 1]"},
			{"pdcov", q.PDCov, "partial dCov U(X,Y) - U(X,Z)·U(Y,Z)/U(Z,Z)"},
			{"bcdcor_xz", q.BCDCorXZ, "R*(X,Z)"},
			{"bcdcor_yz", q.BCDCorYZ, "R*(Y,Z)"},
			{"semi_partial", q.SemiPartial, "(R*(X,Z) - R*(X,Y)·R*(Y,Z)) / sqrt(1 - R*(X,Y)²), as the seed paper's code"},
		}
	}
	return pair, partial
}

// writeHead starts the text of a result: the samples, the rows dropped,
// the exponent.
func writeHead(b *bytes.Buffer, n, dropped int, exponent float64) {
	fmt.Fprintf(b, "n = %d samples", n)
	if dropped > 0 {
		fmt.Fprintf(b, " (%d rows with null, NaN or Inf dropped)", dropped)
	}
	fmt.Fprintf(b, ", distance exponent %s", Number(exponent))
}

// WriteText writes the result as the command's text: the samples and
// spaces, then every statistic with its value and definition, the
// U-statistics first (the ones to report), then the V-statistics, the
// partial ones, the intervals, tests and CKA asked for, and the flags.
func (r *Pair) WriteText(w io.Writer) error {
	var b bytes.Buffer
	writeHead(&b, r.N, r.Dropped, r.Exponent)
	if r.Precision != "" {
		fmt.Fprintf(&b, ", Gram products in %s (see the README for its error)", r.Precision)
	}
	b.WriteByte('\n')
	r.Budget.writeText(&b)
	for i, sp := range r.Spaces {
		fmt.Fprintf(&b, "%c = %s\n", "XYZ"[i], sp.text())
	}
	pair, partial := fields(r)
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	section := func(title string, fs []field) {
		fmt.Fprintf(tw, "\n%s\n", title)
		for _, f := range fs {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.key, textNumber(f.value), f.def)
		}
	}
	section("Bias-corrected (U-statistics): report these", pair[:7])
	section("V-statistics (R energy::dcor, dcov)", pair[7:])
	if partial != nil {
		section("Partial, given Z (U-statistics)", partial)
	}
	if x := r.Extras; x != nil {
		var fs []field
		if x.CILevel > 0 {
			ci := func(v [2]float64) string { return fmt.Sprintf("[%s, %s]", textNumber(v[0]), textNumber(v[1])) }
			lvl := fmt.Sprintf("%g%% interval", 100*x.CILevel)
			fmt.Fprintf(tw, "\nDelete-one jackknife (-ci)\n")
			se := func(key string, v float64, iv [2]float64, undefined bool, why string) {
				if undefined {
					fmt.Fprintf(tw, "  %s\tundefined\t%s\n", key, why)
					return
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s %s\n", key, textNumber(v), lvl, ci(iv))
			}
			se("bcdcor_se", x.BCDCorSE, x.BCDCorCI, x.BCDCorSEUndefined, "the delete-one U-statistics need n - 1 >= 4 samples")
			se("dcor_se", x.DCorSE, x.DCorCI, x.DCorSEUndefined, "the delete-one V-statistics need n - 1 >= 2 samples")
			if r.Partial != nil {
				se("pdcor_se", x.PDCorSE, x.PDCorCI, x.PDCorSEUndefined, "the delete-one U-statistics need n - 1 >= 4 samples")
			}
		}
		if x.Permutations > 0 {
			fs = append(fs, field{"perm_p_value", x.PermP, fmt.Sprintf("permutation test of independence, %d permutations, seed %d", x.Permutations, x.Seed)})
			fs = append(fs, field{"perm_p_value_v", x.PermPV, "the same permutations on the V-statistic (energy::dcov.test)"})
			if r.Partial != nil {
				fs = append(fs, field{"pdcor_perm_p_value", x.PDCorPermP, "permutation test of pdCov = 0 (energy::pdcov.test)"})
			}
		}
		if x.CKA {
			fs = append(fs, field{"cka_linear", x.CKALinear, "debiased linear CKA (Kornblith et al. 2019, unbiased HSIC)"},
				field{"hsic_linear_u", x.HSICLinU, "unbiased HSIC with the linear kernel"})
		}
		if x.RBF {
			fs = append(fs, field{"cka_rbf", x.CKARBF, fmt.Sprintf("debiased CKA with the Gaussian kernel, σx = %s, σy = %s", textNumber(x.RBFSigmaX), textNumber(x.RBFSigmaY))},
				field{"hsic_rbf_u", x.HSICRBFU, "unbiased HSIC with the Gaussian kernel"})
		}
		if fs != nil {
			section("Tests and kernel similarity", fs)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if names := r.FlagNames(); len(names) > 0 {
		fmt.Fprintf(&b, "\nflags: %s (see the README for the value each one implies)\n", strings.Join(names, ", "))
	}
	_, err := w.Write(b.Bytes())
	return err
}

func textNumber(v float64) string {
	if math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 10, 64)
}

// text describes the space in the pair's text: "LABEL: COLUMNS (DIM dims)".
func (sp SpaceInfo) text() string {
	label := spaceLabel(sp.Name, sp.Columns)
	if sp.Label != "" {
		label = sp.Label + ": " + label
	}
	return fmt.Sprintf("%s (%d %s)", label, sp.Dim, plural(sp.Dim, "dim"))
}

// plural returns word, or word+"s" unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func spaceLabel(name string, cols []string) string {
	if len(cols) <= 4 {
		return strings.Join(cols, ",")
	}
	if name != "" {
		return fmt.Sprintf("%s [%s … %s]", name, cols[0], cols[len(cols)-1])
	}
	return fmt.Sprintf("%s … %s", cols[0], cols[len(cols)-1])
}

// WriteCSV writes the long form: a header, then one line per (row, col)
// pair in row-major order, with the statistics, the entry's flags
// separated by ';', and the estimator ("exact", or the minibatch label).
// The columns are always the same; a cell whose statistic does not apply
// (a p-value of the minibatch mean, pdcor without -given, an SE without
// -ci) is empty, so that one reader serves every run.
func (r *MatrixResult) WriteCSV(w io.Writer) error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	stats := r.Stats()
	head := []string{"row", "col"}
	order := []string{"dcor", "dcor_sq", "bcdcor", "bcdcor_se", "p_value", "pdcor", "pdcor_se", "semi_partial", "semi_partial_se", "cka_linear", "cka_rbf", "perm_p_value"}
	byKey := map[string][][]float64{}
	for _, s := range stats {
		byKey[s.Key] = s.Grid
	}
	head = append(append(head, order...), "flags", "estimator")
	if err := cw.Write(head); err != nil {
		return err
	}
	est := r.Estimator()
	for i, rn := range r.Rows {
		for j, cn := range r.Cols {
			rec := []string{rn, cn}
			for _, k := range order {
				if g := byKey[k]; g != nil {
					rec = append(rec, Number(g[i][j]))
				} else {
					rec = append(rec, "")
				}
			}
			rec = append(rec, strings.Join(r.EntryFlags(i, j), ";"), est)
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteText writes a header naming the spaces, then each matrix as a table
// with 4 decimals (p-values with 2 significant digits).
func (r *MatrixResult) WriteText(w io.Writer) error {
	var b bytes.Buffer
	writeHead(&b, r.N, r.Dropped, r.Exponent)
	if r.NormalizeRows {
		b.WriteString(", rows normalised to unit norm")
	}
	b.WriteByte('\n')
	if m := r; m.Minibatch > 0 {
		fmt.Fprintf(&b, "ESTIMATOR: %s\n  (%d batches", r.Estimator(), m.Batches)
		if m.Shuffled {
			fmt.Fprintf(&b, " of rows shuffled with seed %d", m.ShuffleSeed)
			if m.UnusedSamples > 0 {
				fmt.Fprintf(&b, "; %d samples unused", m.UnusedSamples)
			}
		} else {
			b.WriteString(" of consecutive rows")
			if m.UnusedSamples > 0 {
				fmt.Fprintf(&b, "; the last %d samples unused", m.UnusedSamples)
			}
		}
		b.WriteString("; drop -minibatch for the exact statistic on all samples)\n")
		if c := m.OrderCheck; c != nil && c.Warn {
			fmt.Fprintf(&b, "%s\n", c.Warning())
		}
	}
	if r.Block > 0 {
		fmt.Fprintf(&b, "ESTIMATOR: blocks: exact U-statistics of %d blocks of %d rows averaged as components, R* of\n"+
			"  the means; an estimate of the full-sample statistic, with delete-one-block jackknife SEs\n", r.Batches, r.Block)
		if r.UnusedSamples > 0 {
			fmt.Fprintf(&b, "  (%d rows after the last block unused)\n", r.UnusedSamples)
		}
		b.WriteString(shuffleNote(r.Shuffled, r.ShuffleSeed))
	}
	r.Budget.writeText(&b)
	dims := func(names []string, d []int) string {
		s := make([]string, len(names))
		for i := range names {
			s[i] = fmt.Sprintf("%s (%d)", names[i], d[i])
		}
		return strings.Join(s, ", ")
	}
	if r.Square {
		fmt.Fprintf(&b, "spaces (dims): %s\n", dims(r.Rows, r.RowDims))
	} else {
		fmt.Fprintf(&b, "rows (dims): %s\n", dims(r.Rows, r.RowDims))
		fmt.Fprintf(&b, "cols (dims): %s\n", dims(r.Cols, r.ColDims))
	}
	if r.Given != "" {
		fmt.Fprintf(&b, "given: %s (%d)\n", r.Given, r.GivenDim)
	}
	nameW := 0
	for _, n := range r.Rows {
		nameW = max(nameW, utf8.RuneCountInString(n))
	}
	for _, s := range r.Stats() {
		fmt.Fprintf(&b, "\n%s: %s\n", s.Key, s.Def)
		// Right-aligned numbers; the row names padded to one width, so
		// that they read left-aligned.
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%*s\t", nameW, "")
		for _, c := range r.Cols {
			fmt.Fprintf(tw, "%s\t", c)
		}
		fmt.Fprintln(tw)
		for i, row := range s.Grid {
			fmt.Fprintf(tw, "%-*s\t", nameW, r.Rows[i])
			for _, v := range row {
				if s.Key == "p_value" || s.Key == "perm_p_value" {
					fmt.Fprintf(tw, "%.2g\t", v)
				} else {
					fmt.Fprintf(tw, "%.4f\t", v)
				}
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Contrasts) > 0 {
		fmt.Fprintf(&b, "\ncompare: bcdcor[a] − bcdcor[b], jackknife SE sqrt(var_a + var_b − 2 cov_ab), %g%% interval\n", 100*r.CILevel)
		for _, c := range r.Contrasts {
			fmt.Fprintf(&b, "  %s,%s − %s,%s = %.4f ± %.4f  [%.4f, %.4f]\n", r.Rows[c.A[0]], r.Cols[c.A[1]], r.Rows[c.B[0]], r.Cols[c.B[1]], c.Diff, c.SE, c.CI[0], c.CI[1])
		}
	}
	if fl := r.Flagged(); len(fl) > 0 {
		b.WriteString("\nflags (x = row, y = col, z = given; see the README for the value each one implies):\n")
		for _, f := range fl {
			fmt.Fprintf(&b, "  %s × %s: %s\n", f.Row, f.Col, strings.Join(f.Names, ", "))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
