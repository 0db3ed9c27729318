//go:build !purego

package block

// asmKernels returns the NEON Gram micro-kernels of fused_arm64.s, with
// the Go epilogue, sums and packing. ASIMD is part of every CPU the Go
// arm64 port runs on (its runtime copies memory with it), so there is no
// feature to check.
func asmKernels() (kernels, bool) {
	k := goKernels()
	k.name, k.gramStrip, k.gramStripAcc = "neon", gramStripNEON, gramStripAccNEON
	return k, true
}

// asmKernels32 returns the float32 NEON Gram micro-kernel, with the Go
// epilogue and packing.
func asmKernels32() (kernels32, bool) {
	k := goKernels32()
	k.name, k.gramStrip = "neon", gramStrip32NEON
	return k, true
}

// kernelSets32 returns every float32 strip-kernel set of this build.
func kernelSets32() []kernels32 {
	k, _ := asmKernels32()
	return []kernels32{goKernels32(), k}
}

// The wrappers check the slice lengths the assembly relies on.

func gramStripNEON(dim, nb int, a, b, g []float64) {
	if nb <= 0 || dim <= 0 {
		return
	}
	_ = a[nb*mr*dim-1]
	_ = b[nr*dim-1]
	_ = g[nb*mr*nr-1]
	gramStripAsmNEON(dim, nb, &a[0], &b[0], &g[0])
}

func gramStripAccNEON(dim, nb, lda int, a, b, g []float64) {
	if nb <= 0 || dim <= 0 {
		return
	}
	if lda < mr*dim {
		panic("block: gramStripAcc blocks overlap")
	}
	_ = a[(nb-1)*lda+mr*dim-1]
	_ = b[nr*dim-1]
	_ = g[nb*mr*nr-1]
	gramStripAccAsmNEON(dim, nb, lda, &a[0], &b[0], &g[0])
}

func gramStrip32NEON(dim, nb, cols int, a, b, g []float32) {
	if nb <= 0 || dim <= 0 {
		return
	}
	_ = a[nb*mr*dim-1]
	_ = b[nr2*dim-1]
	_ = g[nb*mr*nr2-1]
	ng := min(4, max(1, (cols+11)/12)) // groups of 12 columns
	gramStrip32AsmNEON(dim, nb, ng, &a[0], &b[0], &g[0])
}
