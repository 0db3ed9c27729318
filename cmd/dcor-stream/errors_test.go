package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrors checks the exit status and that the message names what is
// wrong: the file, the column and the row for data errors.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nan := write("nan.csv", "a,b,c\n1,2,3\n4,NaN,6\n7,8,9\n1,1,1\n2,2,5\n")
	inf := write("inf.csv", "a,b\n1,2\n3,4\n5,Inf\n6,7\n8,9\n")
	short := write("short.csv", "a,b\n1,2\n3,4\n")
	str := write("str.csv", "a,s\n1,x\n2,y\n3,z\n4,w\n")
	empty := write("empty.csv", "")
	head := write("head.csv", "a,b\n")
	gosyntax := write("go.csv", "x,y\n1,1\n1_000,2\n3,3\n4,5\n0x1p-2,1\n")
	full, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	trunc := write("trunc.arrow", string(full[:len(full)/2]))
	garbage := write("garbage.arrow", strings.Repeat("\x00\x17garbage", 100))

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // substrings of stderr
	}{
		{"no -x", []string{"-y", "b", nan}, 2, []string{"-x and -y are required"}},
		{"bad exponent", []string{"-exponent", "2.5", "-x", "a", "-y", "b", nan}, 2, []string{"-exponent 2.5"}},
		{"zero exponent", []string{"-exponent", "0", "-x", "a", "-y", "b", nan}, 2, []string{"-exponent 0"}},
		{"bad format", []string{"-format", "xml", "-x", "a", "-y", "b", nan}, 2, []string{"-format"}},
		{"unknown flag", []string{"-frobnicate", "-x", "a", "-y", "b", nan}, 2, []string{"frobnicate"}},
		{"two files", []string{"-x", "a", "-y", "b", nan, nan}, 2, []string{"more than one FILE"}},
		{"no file", []string{"-x", "a", "-y", "b"}, 2, []string{"names no file"}},
		{"bad workers", []string{"-workers", "0", "-x", "a", "-y", "b", nan}, 2, []string{"-workers"}},
		{"empty spec", []string{"-x", "a:", "-y", "b", nan}, 2, []string{`-x "a:"`}},
		{"NaN", []string{"-x", "a", "-y", "b", nan}, 1, []string{"nan.csv", `column "b"`, "row 1", "NaN", "-drop-invalid"}},
		{"Inf", []string{"-x", "a", "-y", "b", inf}, 1, []string{"inf.csv", `column "b"`, "row 2"}},
		{"missing file", []string{"-x", "a", "-y", "b", filepath.Join(dir, "nope.csv")}, 1, []string{"nope.csv"}},
		{"missing column", []string{"-x", "nope", "-y", "a", nan}, 1, []string{"nan.csv", `column "nope"`, "not found"}},
		{"glob matches nothing", []string{"-x", "q*", "-y", "a", nan}, 1, []string{"nan.csv", "q*"}},
		{"string column", []string{"-x", "a", "-y", "s", str}, 1, []string{"str.csv", `column "s"`, "utf8"}},
		{"row mismatch", []string{"-x", "a", "-y", short + ":b", nan}, 1, []string{"nan.csv", "5 rows", "short.csv", "2 rows"}},
		{"truncated arrow", []string{"-x", "model_a", "-y", "model_b", trunc}, 1, []string{"trunc.arrow"}},
		{"garbage", []string{"-x", "model_a", "-y", "model_b", garbage}, 1, []string{"garbage.arrow"}},
		{"empty csv", []string{"-x", "a", "-y", "b", empty}, 1, []string{"empty.csv"}},
		{"list column missing", []string{"-x", "model_c", "-y", "model_b", example}, 1, []string{"activations.arrow", `"model_c"`, "model_a"}},
		// Combinations the job refuses are usage errors, as the flags'.
		{"every with ci", []string{"-every", "7", "-ci", "-x", "a", "-y", "b", nan}, 2, []string{"intervals", "for usage"}},
		{"every with cka", []string{"-every", "7", "-cka", "-x", "a", "-y", "b", nan}, 2, []string{"CKA"}},
		{"every with permutations", []string{"-every", "7", "-permutations", "5", "-x", "a", "-y", "b", nan}, 2, []string{"permutation"}},
		{"blocks with ci", []string{"-estimator", "blocks", "-ci", "-x", "a", "-y", "b", nan}, 2, []string{"block estimator"}},
		{"blocks with permutations", []string{"-estimator", "blocks", "-permutations", "5", "-x", "a", "-y", "b", nan}, 2, []string{"block estimator"}},
		{"key-missing without key", []string{"-key-missing", "drop", "-x", "a", "-y", "b", nan}, 2, []string{"-key-missing goes with -key"}},
		// No samples is an error naming the file.
		{"header only", []string{"-x", "a", "-y", "b", head}, 1, []string{"head.csv: no rows"}},
		{"all dropped", []string{"-drop-invalid", "-x", "a", "-y", "b", write("nans.csv", "a,b\n1,NaN\nInf,2\n")}, 1, []string{"nans.csv", "dropped them all"}},
		// Go's number syntax is not CSV's.
		{"go syntax", []string{"-x", "x", "-y", "y", gosyntax}, 1, []string{"go.csv", `column "x"`, `row 1: "1_000" is not a number`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tc.args...)
			if code != tc.code {
				t.Errorf("dcor-stream %s: exit %d, want %d; stderr: %s", strings.Join(tc.args, " "), code, tc.code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty on error: %q", stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
				t.Errorf("stderr shows a panic: %s", stderr)
			}
		})
	}
}

func TestDropInvalid(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "x.csv")
	y := filepath.Join(dir, "y.csv")
	clean := filepath.Join(dir, "clean.csv")
	os.WriteFile(x, []byte("a\n1\n2\nNaN\n4\n5\n7\n"), 0o644)
	os.WriteFile(y, []byte("b\n2\n1\n3\n-Inf\n8\n9\n"), 0o644)
	os.WriteFile(clean, []byte("a,b\n1,2\n2,1\n5,8\n7,9\n"), 0o644)
	code, got, stderr := runCLI(t, nil, "-format", "json", "-drop-invalid", "-x", x, "-y", y)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(got, `"dropped_rows":2`) || !strings.Contains(got, `"n":4`) {
		t.Errorf("output %s: want n 4 and dropped_rows 2", got)
	}
	_, want, _ := runCLI(t, nil, "-format", "json", "-x", "a", "-y", "b", clean)
	strip := func(s string) string { return strings.Replace(s, `"dropped_rows":2`, `"dropped_rows":0`, 1) }
	if strip(got) != want {
		t.Errorf("dropping rows jointly:\n%s\nwant the statistics of the clean rows:\n%s", got, want)
	}
}

// TestStdin feeds the example as an Arrow IPC stream on standard input: the
// result must be the same as from the file.
func TestStdin(t *testing.T) {
	stdin := ipcStream(t, example)
	code, got, stderr := runCLI(t, stdin, "-format", "json", "-x", "model_a", "-y", "label", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, want, _ := runCLI(t, nil, "-format", "json", "-x", "model_a", "-y", "label", example)
	if got != want {
		t.Errorf("from stdin:\n%s\nfrom the file:\n%s", got, want)
	}
}

// TestWorkersIdentical checks that the printed result, with both
// permutation p-values, does not depend on the number of workers or the
// tile size's scheduling, to the last bit.
func TestWorkersIdentical(t *testing.T) {
	args := []string{"-format", "json", "-permutations", "9", "-tile", "64", "-x", "model_a", "-y", "model_b", "-z", "noise", example}
	_, want, _ := runCLI(t, nil, append([]string{"-workers", "1"}, args...)...)
	if !strings.Contains(want, `"pdcor_perm_p_value"`) {
		t.Fatalf("no pdcov p-value: %s", want)
	}
	for _, w := range []string{"2", "3", "8"} {
		_, got, _ := runCLI(t, nil, append([]string{"-workers", w}, args...)...)
		if got != want {
			t.Errorf("-workers %s:\n%s\nwant (-workers 1):\n%s", w, got, want)
		}
	}
}
