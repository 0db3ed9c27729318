//go:build !purego

package block

import "golang.org/x/sys/cpu"

// asmKernels32 returns the float32 strip kernels of fused32_amd64.s if the
// CPU runs them: AVX2+FMA, with the AVX-512 Gram micro-kernel, epilogue
// and packing where AVX-512F is available.
func asmKernels32() (kernels32, bool) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasAVX {
		return kernels32{}, false
	}
	if cpu.X86.HasAVX512F {
		return kernels32{name: "avx512", gramStrip: gramStrip32AVX512, distStrip: distStrip32AVX512, pack: pack32AVX512}, true
	}
	return avx2Kernels32(), true
}

func avx2Kernels32() kernels32 {
	return kernels32{name: "avx2", gramStrip: gramStrip32AVX2, distStrip: distAccStrip32AVX2, pack: pack32AVX2}
}

// kernelSets32 returns every float32 strip-kernel set this CPU runs.
func kernelSets32() []kernels32 {
	sets := []kernels32{goKernels32()}
	if k, ok := asmKernels32(); ok {
		if k.name != "avx2" {
			sets = append(sets, avx2Kernels32())
		}
		sets = append(sets, k)
	}
	return sets
}

// The wrappers check the slice lengths the assembly relies on.

func gramStrip32AVX2(dim, nb, cols int, a, b, g []float32) {
	if nb <= 0 || dim <= 0 {
		return
	}
	_ = a[nb*mr*dim-1]
	_ = b[nr2*dim-1]
	_ = g[nb*mr*nr2-1]
	nh := 2 // column halves of 24
	if cols <= nr2/2 {
		nh = 1
	}
	gramStrip32Asm(dim, nb, nh, &a[0], &b[0], &g[0])
}

func gramStrip32AVX512(dim, nb, cols int, a, b, g []float32) {
	if nb <= 0 || dim <= 0 {
		return
	}
	_ = a[nb*mr*dim-1]
	_ = b[nr2*dim-1]
	_ = g[nb*mr*nr2-1]
	nv := min(3, max(1, (cols+15)/16)) // ZMM of 16 columns
	gramStrip32Asm512(dim, nb, nv, &a[0], &b[0], &g[0])
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

// distAccStrip32AVX2 is kernels32.distStrip with AVX2: distStrip32AVX2,
// then accStripAVX2 over what it wrote.
func distAccStrip32AVX2(rows int, g []float32, d, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8, rs, col, other []float64) (int, float64, float64) {
	n := distStrip32AVX2(rows, g, d, na, nb, jidx, i0, c, mode, flags)
	clear(rs[:rows])
	clear(col[:nr])
	sq := accStripAVX2(rows, d, rs, col)
	if other == nil {
		return n, sq, 0
	}
	return n, sq, dotStripAVX2(max(rows, 0)*nr, other, d)
}

func distStrip32AVX512(rows int, g []float32, d, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8, rs, col, other []float64) (int, float64, float64) {
	_ = col[nr-1]
	if rows <= 0 {
		clear(col[:nr])
		return 0, 0, 0
	}
	var o *float64
	if other != nil {
		_ = other[rows*nr-1]
		o = &other[0]
	}
	_ = g[(rows-1)*nr2+nr-1]
	_ = d[rows*nr-1]
	_ = na[rows-1]
	_ = nb[nr-1]
	_ = flags[rows-1]
	_ = rs[rows-1]
	if mode < modeTwo || mode > modeThreeHalves {
		panic("block: invalid epilogue mode")
	}
	return distStrip32Asm512(rows, &g[0], &d[0], &na[0], &nb[0], &jidx[0], i0, c, mode, &flags[0], &rs[0], &col[0], o)
}

func pack32AVX512(dst []float32, norms []float64, s Space, mu []float64, r0, m, w int) {
	pack32With(dst, norms, s, mu, r0, m, w, pack32Rows8AVX512)
}

// pack32Rows8AVX512 packs the coordinates q < dim8 of the 8 rows of src
// into blk[q·w + r8 + r] (see pack32With).
func pack32Rows8AVX512(blk []float32, r8 int, src []float64, mu []float64, dim8 int, norms []float64) {
	dim := len(src) / 8
	w := len(blk) / dim
	if dim8 <= 0 || dim8%8 != 0 || dim8 > dim || r8+8 > w || len(mu) < dim8 {
		panic("block: invalid pack32 block")
	}
	_ = blk[(dim8-1)*w+r8+7]
	_ = norms[7]
	pack32Asm512(&blk[r8], w, &src[0], dim, dim8, &mu[0], &norms[0])
}

func pack32AVX2(dst []float32, norms []float64, s Space, mu []float64, r0, m, w int) {
	pack32With(dst, norms, s, mu, r0, m, w, pack32Rows8AVX2)
}

// pack32Rows8AVX2 is pack32Rows8AVX512 with AVX2, 4 rows at a time.
func pack32Rows8AVX2(blk []float32, r8 int, src []float64, mu []float64, dim8 int, norms []float64) {
	dim := len(src) / 8
	w := len(blk) / dim
	if dim8 <= 0 || dim8%8 != 0 || dim8 > dim || r8+8 > w || len(mu) < dim8 {
		panic("block: invalid pack32 block")
	}
	_ = blk[(dim8-1)*w+r8+7]
	_ = norms[7]
	pack32Asm(&blk[r8], w, &src[0], dim, dim8, &mu[0], &norms[0])
	pack32Asm(&blk[r8+4], w, &src[4*dim], dim, dim8, &mu[0], &norms[4])
}
