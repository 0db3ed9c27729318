//go:build !purego

package block

import "golang.org/x/sys/cpu"

// asmKernels32 returns the float32 strip kernels of fused32_amd64.s if the
// CPU runs them: AVX2+FMA, with the AVX-512 Gram micro-kernel where
// AVX-512F is available.
func asmKernels32() (kernels32, bool) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasAVX {
		return kernels32{}, false
	}
	if cpu.X86.HasAVX512F {
		return kernels32{name: "avx512", gramStrip: gramStrip32AVX512, distStrip: distStrip32AVX2}, true
	}
	return kernels32{name: "avx2", gramStrip: gramStrip32AVX2, distStrip: distStrip32AVX2}, true
}

// kernelSets32 returns every float32 strip-kernel set this CPU runs.
func kernelSets32() []kernels32 {
	sets := []kernels32{goKernels32()}
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasAVX {
		return sets
	}
	sets = append(sets, kernels32{name: "avx2", gramStrip: gramStrip32AVX2, distStrip: distStrip32AVX2})
	if cpu.X86.HasAVX512F {
		sets = append(sets, kernels32{name: "avx512", gramStrip: gramStrip32AVX512, distStrip: distStrip32AVX2})
	}
	return sets
}

// The wrappers check the slice lengths the assembly relies on.

func gramStrip32AVX2(dim, nb int, a, b, g []float32) {
	if nb <= 0 || dim <= 0 {
		return
	}
	_ = a[nb*mr*dim-1]
	_ = b[nr2*dim-1]
	_ = g[nb*mr*nr2-1]
	gramStrip32Asm(dim, nb, &a[0], &b[0], &g[0])
}

func gramStrip32AVX512(dim, nb int, a, b, g []float32) {
	if nb <= 0 || dim <= 0 {
		return
	}
	_ = a[nb*mr*dim-1]
	_ = b[nr2*dim-1]
	_ = g[nb*mr*nr2-1]
	gramStrip32Asm512(dim, nb, &a[0], &b[0], &g[0])
}

func distStrip32AVX2(rows int, g []float32, d, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8) int {
	if rows <= 0 {
		return 0
	}
	_ = g[(rows-1)*nr2+nr-1]
	_ = d[rows*nr-1]
	_ = na[rows-1]
	_ = nb[nr-1]
	_ = flags[rows-1]
	if mode < modeTwo || mode > modeThreeHalves {
		panic("block: invalid epilogue mode")
	}
	return distStrip32Asm(rows, &g[0], &d[0], &na[0], &nb[0], &jidx[0], i0, c, mode, &flags[0])
}

//go:noescape
func gramStrip32Asm(dim, nb int, a, b, gs *float32)

//go:noescape
func gramStrip32Asm512(dim, nb int, a, b, gs *float32)

//go:noescape
func distStrip32Asm(rows int, gs *float32, d, na, nb, jidx *float64, i0, c float64, mode int, flags *uint8) int
