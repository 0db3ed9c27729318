package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dcor-stream/dcor-stream/job"
)

// field is one named output value with its definition.
type field struct {
	key   string
	value float64
	def   string
}

func fields(r *job.Pair) (pair, partial []field) {
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

func writePairText(w io.Writer, r *job.Pair) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "n = %d samples", r.N)
	if r.Dropped > 0 {
		fmt.Fprintf(&b, " (%d rows with null, NaN or Inf dropped)", r.Dropped)
	}
	fmt.Fprintf(&b, ", distance exponent %s", job.Number(r.Exponent))
	if r.Precision != "" {
		fmt.Fprintf(&b, ", Gram products in %s (see the README for its error)", r.Precision)
	}
	b.WriteByte('\n')
	for i, sp := range r.Spaces {
		unit := "dims"
		if sp.Dim == 1 {
			unit = "dim"
		}
		fmt.Fprintf(&b, "%c = %s (%d %s)\n", "XYZ"[i], spaceLabel(sp.Name, sp.Columns), sp.Dim, unit)
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

func spaceLabel(name string, cols []string) string {
	if len(cols) <= 4 {
		return strings.Join(cols, ",")
	}
	if name != "" {
		return fmt.Sprintf("%s [%s … %s]", name, cols[0], cols[len(cols)-1])
	}
	return fmt.Sprintf("%s … %s", cols[0], cols[len(cols)-1])
}
