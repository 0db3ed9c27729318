package stream_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/stream"
)

// keyCSV writes the rows of ds in the given order (nil: 0..n-1) to a CSV
// file of the columns id, x_0, x_1, x_2 (xs) or id, y, the ID of row i
// being id(i).
func keyCSV(t *testing.T, path string, ds dataset, order []int, xs bool, id func(int) string) {
	t.Helper()
	var b strings.Builder
	if xs {
		b.WriteString("x_0,id,x_1,x_2\n")
	} else {
		b.WriteString("y,id\n")
	}
	if order == nil {
		order = make([]int, ds.n)
		for i := range order {
			order[i] = i
		}
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, i := range order {
		if xs {
			x := ds.x[i*dsDim:]
			fmt.Fprintf(&b, "%s,%s,%s,%s\n", f(x[0]), id(i), f(x[1]), f(x[2]))
		} else {
			fmt.Fprintf(&b, "%s,%s\n", f(ds.y[i]), id(i))
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func intID(i int) string { return strconv.Itoa(1000 + 7*i) }
func strID(i int) string { return fmt.Sprintf("img-%04d", i) }

// TestKeyAligns: files whose rows are shuffled give, aligned by ID, the
// rows of the unshuffled files, in every pass and from any row.
func TestKeyAligns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	const n = 300
	ds := newDataset(n, 3)
	perm := rand.New(rand.NewPCG(5, 6)).Perm(n)
	// The unshuffled y as a float64 .npy, and a shuffled one with its
	// IDs beside it, as examples/pytorch writes them.
	writeNpy(t, filepath.Join(dir, "plain.y.npy"), fmt.Sprintf("(%d,)", n), ds.y)
	ys, idv := make([]float64, n), make([]int64, n)
	for j, i := range perm {
		ys[j], idv[j] = ds.y[i], int64(1000+7*i)
	}
	writeNpy(t, filepath.Join(dir, "m.y.npy"), fmt.Sprintf("(%d, 1)", n), ys)
	writeInt64Npy(t, filepath.Join(dir, "m.ids.npy"), idv)
	for _, tc := range []struct {
		name string
		id   func(int) string
	}{{"int", intID}, {"string", strID}} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, plain := filepath.Join(dir, tc.name+"a.csv"), filepath.Join(dir, tc.name+"b.csv"), filepath.Join(dir, tc.name+"plain.csv")
			keyCSV(t, a, ds, nil, true, tc.id)
			keyCSV(t, b, ds, perm, false, tc.id)
			keyCSV(t, plain, ds, nil, false, tc.id)
			want, err := stream.Load(t.Context(), "", []stream.Spec{{File: a, Columns: []string{"x_*"}}, {File: plain, Columns: []string{"y"}}}, stream.Options{Alloc: mem})
			if err != nil {
				t.Fatal(err)
			}
			specs := []stream.Spec{{File: a, Columns: []string{"*"}}, {File: b, Columns: []string{"y"}}}
			if tc.name == "int" {
				specs = append(specs, stream.Spec{File: filepath.Join(dir, "m.y.npy"), Columns: []string{"data"}})
			}
			r, err := stream.NewReader(t.Context(), "", specs, stream.Options{Alloc: mem, Key: "id", BatchRows: 64})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := r.Spaces()[0].Columns; !slices.Equal(got, []string{"x_0", "x_1", "x_2"}) {
				t.Errorf("columns of * with -key id: %v, want x_0, x_1, x_2", got)
			}
			rep := r.Key()
			if rep == nil || rep.N != n || rep.Reordered[0] || !rep.Reordered[1] {
				t.Fatalf("key report %+v, want %d samples, the first file kept, the second reordered", rep, n)
			}
			for _, from := range []int64{0, 77, 0} {
				x, y, err := readPass(t, r, from, 50)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(x, want.Spaces[0].Data[from*dsDim:]) || !slices.Equal(y, want.Spaces[1].Data[from:]) {
					t.Fatalf("pass from %d: the rows aligned by ID differ from the unshuffled rows", from)
				}
			}
			if tc.name == "int" {
				data, err := r.ReadAll(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(data[2], want.Spaces[1].Data) {
					t.Errorf(".npy aligned by the IDs beside it differs from the unshuffled rows")
				}
			}
		})
	}
}

func writeInt64Npy(t *testing.T, path string, v []int64) {
	t.Helper()
	u := make([]float64, len(v))
	for i, x := range v {
		u[i] = math.Float64frombits(uint64(x))
	}
	writeNpy(t, path, fmt.Sprintf("(%d,)", len(v)), u)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes, declared int64.
	s := strings.Replace(string(b), "'<f8'", "'<i8'", 1)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKeyRefuses: duplicated and unmatched IDs are refused before any row
// is read, with the counts, the file, the column and a few IDs; with
// KeyDrop the unmatched are left out and counted.
func TestKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	ds := newDataset(n, 4)
	for _, tc := range []struct {
		name string
		id   func(int) string
		show func(int) string
	}{
		{"int", intID, intID},
		{"string", strID, func(i int) string { return strconv.Quote(strID(i)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := filepath.Join(dir, tc.name+"a.csv")
			keyCSV(t, a, ds, nil, true, tc.id)
			// b: rows 5 and 9 twice.
			dup := filepath.Join(dir, tc.name+"dup.csv")
			order := append(rand.New(rand.NewPCG(1, 2)).Perm(n), 9, 5)
			keyCSV(t, dup, ds, order, false, tc.id)
			_, err := stream.NewReader(t.Context(), "", []stream.Spec{{File: a, Columns: []string{"x_0"}}, {File: dup, Columns: []string{"y"}}}, stream.Options{Key: "id"})
			if !errors.Is(err, stream.ErrKey) {
				t.Fatalf("duplicates: %v, want ErrKey", err)
			}
			for _, s := range []string{dup, `column "id"`, "2 sample IDs appear more than once", tc.show(5), tc.show(9)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("duplicates: %q does not say %q", err, s)
				}
			}
			// c: rows 0..34 and three IDs not in a.
			c := filepath.Join(dir, tc.name+"c.csv")
			keyCSV(t, c, ds, rand.New(rand.NewPCG(3, 4)).Perm(35), false, tc.id)
			b, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			extra := fmt.Sprintf("1,%s\n2,%s\n3,%s\n", tc.id(500), tc.id(501), tc.id(502))
			os.WriteFile(c, append(b, extra...), 0o644)
			specs := []stream.Spec{{File: a, Columns: []string{"x_0"}}, {File: c, Columns: []string{"y"}}}
			_, err = stream.NewReader(t.Context(), "", specs, stream.Options{Key: "id"})
			if !errors.Is(err, stream.ErrKey) {
				t.Fatalf("unmatched: %v, want ErrKey", err)
			}
			for _, s := range []string{"8 of the 43 sample IDs are not in every file", c + `: column "id" lacks 5 (e.g. ` + tc.show(35), a + `: column "id" lacks 3 (e.g. ` + tc.show(500), "keeps the 35"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("unmatched: %q does not say %q", err, s)
				}
			}
			tab, err := stream.Load(t.Context(), "", specs, stream.Options{Key: "id", KeyDrop: true})
			if err != nil {
				t.Fatal(err)
			}
			if tab.N != 35 || tab.Spaces[1].Data[7] != ds.y[7] || tab.Spaces[0].Data[34] != ds.x[34*dsDim] {
				t.Errorf("KeyDrop: %d samples (want 35), or not aligned", tab.N)
			}
			r, err := stream.NewReader(t.Context(), "", specs, stream.Options{Key: "id", KeyDrop: true})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if rep := r.Key(); rep.N != 35 || !slices.Equal(rep.Dropped, []int64{5, 3}) || !slices.Equal(rep.Reordered, []bool{true, true}) {
				t.Errorf("KeyDrop report %+v, want 35 samples, 5 and 3 dropped, both rewritten", rep)
			}
		})
	}
}

// TestKeyErrors: a missing key column, IDs of different kinds, a null ID,
// a .npy file without IDs beside it, a non-integer float ID.
func TestKeyErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	ds := newDataset(10, 1)
	a, s := filepath.Join(dir, "a.csv"), filepath.Join(dir, "s.csv")
	keyCSV(t, a, ds, nil, true, intID)
	keyCSV(t, s, ds, nil, false, strID)
	nullID := filepath.Join(dir, "null.arrow")
	sch := arrow.NewSchema([]arrow.Field{field("id", arrow.PrimitiveTypes.Int32), field("y", arrow.PrimitiveTypes.Float64)}, nil)
	writeIPC(t, mem, nullID, sch, `[{"id": 1, "y": 1}, {"id": null, "y": 2}]`)
	frac := filepath.Join(dir, "frac.csv")
	os.WriteFile(frac, []byte("id,y\n1.5,1\n2,2\n"), 0o644)
	npy := filepath.Join(dir, "lone.npy")
	writeNpy(t, npy, "(10,)", ds.y)
	for _, tc := range []struct {
		name string
		spec stream.Spec
		key  string
		want []string
		is   error
	}{
		{"no column", stream.Spec{File: s, Columns: []string{"y"}}, "ID", []string{a, `column "ID"`, "not found"}, stream.ErrColumn},
		{"kinds", stream.Spec{File: s, Columns: []string{"y"}}, "id", []string{s, `column "id"`, "utf8", "integers"}, stream.ErrType},
		{"null", stream.Spec{File: nullID, Columns: []string{"y"}}, "id", []string{nullID, `column "id"`, "row 1", "null sample ID"}, stream.ErrKey},
		{"fraction", stream.Spec{File: frac, Columns: []string{"y"}}, "id", []string{frac, "row 0", "1.5 is not an integer"}, stream.ErrKey},
		{"npy", stream.Spec{File: npy, Columns: []string{"data"}}, "id", []string{npy, filepath.Join(dir, "id.npy"), "beside it"}, stream.ErrColumn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := stream.NewReader(t.Context(), "", []stream.Spec{{File: a, Columns: []string{"x_0"}}, tc.spec}, stream.Options{Alloc: mem, Key: tc.key})
			if !errors.Is(err, tc.is) {
				t.Fatalf("%v, want %v", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}

// TestKeyDropInvalid: with DropInvalid, a NaN in a reordered file drops
// its sample, as it would in the unshuffled files.
func TestKeyDropInvalid(t *testing.T) {
	dir := t.TempDir()
	const n = 50
	ds := newDataset(n, 8)
	ds.y[17] = math.NaN()
	perm := rand.New(rand.NewPCG(7, 7)).Perm(n)
	a, b, plain := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv"), filepath.Join(dir, "p.csv")
	keyCSV(t, a, ds, nil, true, intID)
	keyCSV(t, b, ds, perm, false, intID)
	keyCSV(t, plain, ds, nil, false, intID)
	opts := stream.Options{DropInvalid: true}
	want, err := stream.Load(t.Context(), "", []stream.Spec{{File: a, Columns: []string{"x_0"}}, {File: plain, Columns: []string{"y"}}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Key = "id"
	got, err := stream.Load(t.Context(), "", []stream.Spec{{File: a, Columns: []string{"x_0"}}, {File: b, Columns: []string{"y"}}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.N != n-1 || got.Dropped != 1 || !slices.Equal(got.Spaces[0].Data, want.Spaces[0].Data) || !slices.Equal(got.Spaces[1].Data, want.Spaces[1].Data) {
		t.Errorf("n %d, dropped %d: the rows differ from the unshuffled files'", got.N, got.Dropped)
	}
	// Without DropInvalid the NaN is reported in the shuffled file, at its
	// row there.
	_, err = stream.Load(t.Context(), "", []stream.Spec{{File: a, Columns: []string{"x_0"}}, {File: b, Columns: []string{"y"}}}, stream.Options{Key: "id"})
	row := slices.Index(perm, 17)
	if want := fmt.Sprintf(`%s: column "y": row %d: NaN`, b, row); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%v, want %q", err, want)
	}
}

// TestKeyObjectsAndStdin: the IDs of a .npy object are the object beside
// it; standard input, read once for its IDs and once for its rows, is
// spilled, and the spill and the rewritten files leave TempDir empty.
func TestKeyObjectsAndStdin(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const n = 90
	ds := newDataset(n, 9)
	perm := rand.New(rand.NewPCG(9, 9)).Perm(n)
	dir, tmp := t.TempDir(), t.TempDir()
	keyCSV(t, filepath.Join(dir, "a.csv"), ds, nil, true, intID)
	ys, idv := make([]float64, n), make([]int64, n)
	for j, i := range perm {
		ys[j], idv[j] = ds.y[i], int64(1000+7*i)
	}
	writeNpy(t, filepath.Join(dir, "m.y.npy"), fmt.Sprintf("(%d,)", n), ys)
	writeInt64Npy(t, filepath.Join(dir, "m.ids.npy"), idv)
	serveS3(t, dir)
	specs := []stream.Spec{{File: "s3://acts/a.csv", Columns: []string{"x_*"}}, {File: "s3://acts/m.y.npy", Columns: []string{"data"}}}
	tab, err := stream.Load(t.Context(), "", specs, stream.Options{Alloc: mem, Key: "id", TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tab.Spaces[0].Data, ds.x) || !slices.Equal(tab.Spaces[1].Data, ds.y) {
		t.Errorf("objects aligned by ID differ from the rows in order")
	}

	// Standard input: an IPC stream of the IDs and y, shuffled.
	in := filepath.Join(dir, "in.arrows")
	sch := arrow.NewSchema([]arrow.Field{field("y", arrow.PrimitiveTypes.Float64), field("id", arrow.BinaryTypes.String)}, nil)
	writeIPC(t, mem, in, sch, rowsJSON(0, n, func(j int) string {
		return fmt.Sprintf(`{"y": %v, "id": %q}`, strconv.FormatFloat(ds.y[perm[j]], 'g', -1, 64), strID(perm[j]))
	}))
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	keyCSV(t, filepath.Join(dir, "sa.csv"), ds, nil, true, strID)
	specs = []stream.Spec{{File: filepath.Join(dir, "sa.csv"), Columns: []string{"x_*"}}, {File: "-", Columns: []string{"y"}}}
	tab, err = stream.Load(t.Context(), "", specs, stream.Options{Alloc: mem, Key: "id", Stdin: bytes.NewReader(data), TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tab.Spaces[1].Data, ds.y) {
		t.Errorf("stdin aligned by ID differs from the rows in order")
	}
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
		t.Errorf("temporary directory holds %v (err %v) after Close", ents, err)
	}
}

// TestKeyOneFile: the spaces of one file keep its order (nothing is
// rewritten), and its IDs are still checked.
func TestKeyOneFile(t *testing.T) {
	dir := t.TempDir()
	ds := newDataset(30, 2)
	a, dup := filepath.Join(dir, "a.csv"), filepath.Join(dir, "dup.csv")
	keyCSV(t, a, ds, nil, true, intID)
	keyCSV(t, dup, ds, []int{0, 1, 2, 1}, true, intID)
	r, err := stream.NewReader(t.Context(), "", []stream.Spec{{File: a, Columns: []string{"x_0"}}, {File: a, Columns: []string{"x_1", "x_2"}}}, stream.Options{Key: "id"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if rep := r.Key(); rep.N != 30 || len(rep.Files) != 1 || rep.Reordered[0] {
		t.Errorf("one file: report %+v, want 30 samples of one file, not rewritten", rep)
	}
	_, err = stream.NewReader(t.Context(), "", []stream.Spec{{File: dup, Columns: []string{"x_0"}}, {File: dup, Columns: []string{"x_1"}}}, stream.Options{Key: "id"})
	if !errors.Is(err, stream.ErrKey) || !strings.Contains(err.Error(), intID(1)+" at rows 1, 3") {
		t.Errorf("one file with a duplicate: %v, want ErrKey naming %s at rows 1, 3", err, intID(1))
	}
}

// TestKeyExactIDs: CSV IDs are compared as exact integers, from their
// text: 2^53+1 is not 2^53 and 1.0000000000000001 is not 1 (float64 holds
// each pair as one value), two IDs past 2^53 in one file are distinct;
// "01", "+1", "1.0", "1e0" and "10e-1" are 1 and "-0" is 0, as numbers; a
// number that is not an integer, or beyond int64, is refused naming its
// file, column and row.
func TestKeyExactIDs(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, ids ...string) string {
		t.Helper()
		var b strings.Builder
		b.WriteString("id,v\n")
		for i, id := range ids {
			fmt.Fprintf(&b, "%s,%d\n", id, i)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	load := func(a, b string, drop bool) (*stream.Table, error) {
		return stream.Load(t.Context(), "", []stream.Spec{{File: a, Columns: []string{"v"}}, {File: b, Columns: []string{"v"}}}, stream.Options{Key: "id", KeyDrop: drop})
	}
	for _, tc := range []struct{ name, a, b string }{
		{"2^53+1 vs 2^53", "9007199254740993", "9007199254740992"},
		{"1.0000000000000001 vs 1", "1.0000000000000001", "1"},
		{"-2^63+1 vs -2^63", "-9223372036854775807", "-9223372036854775808"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := write("a.csv", "5", "6", tc.a, "7")
			b := write("b.csv", "7", tc.b, "6", "5")
			_, err := load(a, b, false)
			if strings.Contains(tc.a, ".") {
				// Not an integer: refused, with its row.
				if !errors.Is(err, stream.ErrKey) || !strings.Contains(err.Error(), a+`: column "id": row 2: sample ID 1.0000000000000001 is not an integer`) {
					t.Fatalf("err = %v, want the non-integer ID refused at row 2", err)
				}
				return
			}
			if !errors.Is(err, stream.ErrKey) || !strings.Contains(err.Error(), "2 of the 5 sample IDs are not in every file") {
				t.Fatalf("err = %v, want 2 of 5 IDs not in every file", err)
			}
			tab, err := load(a, b, true)
			if err != nil {
				t.Fatal(err)
			}
			if tab.N != 3 {
				t.Errorf("KeyDrop: n = %d, want 3", tab.N)
			}
		})
	}
	t.Run("distinct past 2^53", func(t *testing.T) {
		a := write("c.csv", "9007199254740992", "9007199254740993", "9007199254740995")
		b := write("d.csv", "9007199254740995", "9007199254740993", "9007199254740992")
		tab, err := load(a, b, false)
		if err != nil {
			t.Fatal(err)
		}
		// v of d (minus d's first, 0) in c's order: rows 2, 1, 0.
		if w := []float64{2, 1, 0}; tab.N != 3 || !slices.Equal(tab.Spaces[1].Data, w) {
			t.Errorf("n = %d, d's v = %v, want 3, %v", tab.N, tab.Spaces[1].Data, w)
		}
	})
	t.Run("equal as numbers", func(t *testing.T) {
		a := write("e.csv", "01", "-0", "1e1", "2.50e1", " 3 ", "4.0")
		b := write("f.csv", "4", "25", "3", "10", "0", "+1")
		tab, err := load(a, b, false)
		if err != nil {
			t.Fatal(err)
		}
		if w := []float64{5, 4, 3, 1, 2, 0}; tab.N != 6 || !slices.Equal(tab.Spaces[1].Data, w) {
			t.Errorf("n = %d, f's v = %v, want 6, %v", tab.N, tab.Spaces[1].Data, w)
		}
	})
	for _, tc := range []struct{ id, why string }{
		{"1.5", "is not an integer"}, {"1e-1", "is not an integer"}, {"nan", "is not an integer"}, {"inf", "is not an integer"},
		{"9223372036854775808", "is beyond int64"}, {"1e19", "is beyond int64"}, {"1e400", "is beyond int64"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			a := write("g.csv", "1", "2", tc.id)
			b := write("h.csv", "1", "2", "3")
			_, err := load(b, a, false)
			if want := a + `: column "id": row 2: sample ID ` + tc.id + " " + tc.why; !errors.Is(err, stream.ErrKey) || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want %q", err, want)
			}
		})
	}
}
