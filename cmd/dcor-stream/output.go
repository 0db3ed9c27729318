package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// field is one named output value with its definition.
type field struct {
	key   string
	value float64
	def   string
}

func (r *report) fields() (pair, partial []field) {
	p := r.pair
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
	if q := r.partial; q != nil {
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

// flagNames returns the degenerate-case flags of the pair and the partial
// statistics, each once.
func (r *report) flagNames() []string {
	names := r.pair.Flags.Names()
	if r.partial != nil {
		for _, n := range r.partial.Flags.Names() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// jsonKeys is the order of the statistics in the JSON object.
var jsonKeys = []string{"dcor", "dcor_sq", "dcov", "dcov_sq", "dvar_x_sq", "dvar_y_sq",
	"bcdcor", "dcov_u", "dvar_x_u", "dvar_y_u", "t_stat", "t_df", "p_value",
	"pdcor", "pdcov", "bcdcor_xz", "bcdcor_yz", "semi_partial"}

// jsonNumber formats v so that it parses back to the same float64. JSON
// has no infinities: ±Inf (t_stat under perfect dependence) is written as
// ±1.7976931348623157e308, the largest float64, and flagged.
func jsonNumber(v float64) string {
	switch {
	case math.IsInf(v, 1):
		v = math.MaxFloat64
	case math.IsInf(v, -1):
		v = -math.MaxFloat64
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (r *report) writeJSON(w io.Writer) error {
	pair, partial := r.fields()
	byKey := map[string]float64{}
	for _, f := range append(pair, partial...) {
		byKey[f.key] = f.value
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\"n\":%d", r.pair.N)
	for _, k := range jsonKeys {
		if v, ok := byKey[k]; ok {
			fmt.Fprintf(&b, ",%q:%s", k, jsonNumber(v))
		}
	}
	fmt.Fprintf(&b, ",\"exponent\":%s,\"dropped_rows\":%d", jsonNumber(r.exponent), r.dropped)
	if r.precision != "" {
		fmt.Fprintf(&b, ",\"precision\":%q", r.precision)
	}
	for i, sp := range r.spaces {
		fmt.Fprintf(&b, ",\"%c_dim\":%d", "xyz"[i], sp.Dim)
	}
	b.WriteString(",\"flags\":[")
	for i, n := range r.flagNames() {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q", n)
	}
	b.WriteString("]}\n")
	_, err := w.Write(b.Bytes())
	return err
}

func (r *report) writeText(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "n = %d samples", r.pair.N)
	if r.dropped > 0 {
		fmt.Fprintf(&b, " (%d rows with null, NaN or Inf dropped)", r.dropped)
	}
	fmt.Fprintf(&b, ", distance exponent %s", jsonNumber(r.exponent))
	if r.precision != "" {
		fmt.Fprintf(&b, ", Gram products in %s (see the README for its error)", r.precision)
	}
	b.WriteByte('\n')
	for i, sp := range r.spaces {
		unit := "dims"
		if sp.Dim == 1 {
			unit = "dim"
		}
		fmt.Fprintf(&b, "%c = %s (%d %s)\n", "XYZ"[i], spaceLabel(sp.Name, sp.Columns), sp.Dim, unit)
	}
	pair, partial := r.fields()
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
	if names := r.flagNames(); len(names) > 0 {
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
