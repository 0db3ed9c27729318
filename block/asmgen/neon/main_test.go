package main

import (
	"strings"
	"testing"
)

// TestFMLAElem checks fmlaElem's WORDs against encodings that
// `go tool objdump` (golang.org/x/arch/arm64/arm64asm) decodes as the
// instruction in the comment, in Go's syntax VFMLA Vm.Ts[i], Vn.T, Vd.T:
// every field (d, n, m and each bit of the index) is set in one case.
func TestFMLAElem(t *testing.T) {
	for _, c := range []struct {
		double     bool
		d, n, m, i int
		want       string // the WORD and its comment
		objdump    string // what go tool objdump printed for it
	}{
		{true, 0, 28, 24, 0, "$0x4fd81380 // FMLA V0.2D, V28.2D, V24.D[0]", "VFMLA V24.D[0], V28.D2, V0.D2"},
		{true, 5, 30, 24, 1, "$0x4fd81bc5 // FMLA V5.2D, V30.2D, V24.D[1]", "VFMLA V24.D[1], V30.D2, V5.D2"},
		{true, 11, 30, 25, 1, "$0x4fd91bcb // FMLA V11.2D, V30.2D, V25.D[1]", "VFMLA V25.D[1], V30.D2, V11.D2"},
		{false, 0, 26, 24, 0, "$0x4f981340 // FMLA V0.4S, V26.4S, V24.S[0]", "VFMLA V24.S[0], V26.S4, V0.S4"},
		{false, 4, 27, 24, 1, "$0x4fb81364 // FMLA V4.4S, V27.4S, V24.S[1]", "VFMLA V24.S[1], V27.S4, V4.S4"},
		{false, 8, 28, 24, 2, "$0x4f981b88 // FMLA V8.4S, V28.4S, V24.S[2]", "VFMLA V24.S[2], V28.S4, V8.S4"},
		{false, 23, 28, 25, 3, "$0x4fb91b97 // FMLA V23.4S, V28.4S, V25.S[3]", "VFMLA V25.S[3], V28.S4, V23.S4"},
	} {
		var a asm
		a.fmlaElem(c.double, c.d, c.n, c.m, c.i)
		if got := strings.TrimSpace(a.b.String()); got != "WORD "+c.want {
			t.Errorf("fmlaElem(%v, %d, %d, %d, %d) = %q, want %q (objdump: %s)", c.double, c.d, c.n, c.m, c.i, got, "WORD "+c.want, c.objdump)
		}
	}
}
