//go:build !purego

package block

import "golang.org/x/sys/cpu"

// asmKernels returns the strip kernels of fused_amd64.s if the CPU (and
// the operating system, which must save the YMM registers) runs them:
// AVX2+FMA, with the AVX-512 Gram micro-kernel (it doubles the FMA
// throughput on the development machine) and epilogue where AVX-512F is
// available.
func asmKernels() (kernels, bool) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasAVX {
		return kernels{}, false
	}
	gram, gramAcc, dist, kern, pk := gramStripAVX2, gramStripAccAVX2, distAccStripAVX2, kernStripAVX2, packAVX2
	name, dm := "avx2", avx2DepthMin
	if cpu.X86.HasAVX512F {
		gram, gramAcc, dist, kern, pk, name, dm = gramStripAVX512, gramStripAccAVX512, distStripAVX512, kernStripAVX512, packAVX512, "avx512", 0
	}
	return kernels{
		name:         name,
		gramStrip:    gram,
		gramStripAcc: gramAcc,
		distStrip:    dist,
		accStrip:     accStripAVX2,
		dotStrip:     dotStripAVX2,
		kernStrip:    kern,
		pack:         pk,
		depthMin:     dm,
	}, true
}

// avx2DepthMin is the depthMin of the AVX2 set. Its 4×12 sub-blocks read
// the a block (8·dim doubles) and half the J strip (12·dim) once per
// pass; from p = 256 on the two no longer fit a 32 KiB L1 together.
// Measured on a Zen 4 core (BenchmarkPeakShare's %peak-best, median of
// 3, 7 December 2026; BENCHMARKS.md, issue 26): depth blocks from 256 on
// raised the AVX2 kernel from 80% to 84% of the AVX2 peak at p = 256,
// 79% to 83% at p = q = 256, 82% to 88% at p = 512 and 75% to 82% at
// p = 2,048 (the chunk of rows unchanged, see fusedChunk).
const avx2DepthMin = 256

func kernStripAVX512(d, v []float64, g, ck, cs float64, mode int) {
	if len(d)%4 != 0 || len(v) < len(d) || mode < 0 || mode > 2 {
		panic("block: kernStrip of a length not a multiple of 4, or mode")
	}
	n := len(d) &^ 7
	if n > 0 {
		kernStripAsm512(n, &d[0], &v[0], g, ck, cs, mode)
	}
	kernStripAVX2(d[n:], v[n:], g, ck, cs, mode)
}

func kernStripAVX2(d, v []float64, g, ck, cs float64, mode int) {
	if len(d)%4 != 0 || len(v) < len(d) || mode < 0 || mode > 2 {
		panic("block: kernStrip of a length not a multiple of 4, or mode")
	}
	if len(d) > 0 {
		kernStripAsm(len(d), &d[0], &v[0], g, ck, cs, mode)
	}
}

// The wrappers check the slice lengths the assembly relies on.

func gramStripAVX2(dim, nb int, a, b, g []float64) {
	if nb <= 0 || dim <= 0 {
		return
	}
	_ = a[nb*mr*dim-1]
	_ = b[nr*dim-1]
	_ = g[nb*mr*nr-1]
	gramStripAsm(dim, nb, &a[0], &b[0], &g[0])
}

func gramStripAVX512(dim, nb int, a, b, g []float64) {
	if nb <= 0 || dim <= 0 {
		return
	}
	_ = a[nb*mr*dim-1]
	_ = b[nr*dim-1]
	_ = g[nb*mr*nr-1]
	gramStripAsm512(dim, nb, &a[0], &b[0], &g[0])
}

func gramStripAccAVX2(dim, nb, lda int, a, b, g []float64) {
	if nb <= 0 || dim <= 0 {
		return
	}
	if lda < mr*dim {
		panic("block: gramStripAcc blocks overlap")
	}
	_ = a[(nb-1)*lda+mr*dim-1]
	_ = b[nr*dim-1]
	_ = g[nb*mr*nr-1]
	gramStripAccAsm(dim, nb, lda, &a[0], &b[0], &g[0])
}

func gramStripAccAVX512(dim, nb, lda int, a, b, g []float64) {
	if nb <= 0 || dim <= 0 {
		return
	}
	if lda < mr*dim {
		panic("block: gramStripAcc blocks overlap")
	}
	_ = a[(nb-1)*lda+mr*dim-1]
	_ = b[nr*dim-1]
	_ = g[nb*mr*nr-1]
	gramStripAccAsm512(dim, nb, lda, &a[0], &b[0], &g[0])
}

func distStripAVX2(rows int, g, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8) int {
	if rows <= 0 {
		return 0
	}
	_ = g[rows*nr-1]
	_ = na[rows-1]
	_ = nb[nr-1]
	_ = flags[rows-1]
	if mode < modeTwo || mode > modeThreeHalves {
		panic("block: invalid epilogue mode")
	}
	return distStripAsm(rows, &g[0], &na[0], &nb[0], &jidx[0], i0, c, mode, &flags[0])
}

func distStripAVX512(rows int, g, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8, rs, col, other []float64) (int, float64, float64) {
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
	_ = g[rows*nr-1]
	_ = na[rows-1]
	_ = nb[nr-1]
	_ = flags[rows-1]
	_ = rs[rows-1]
	if mode < modeTwo || mode > modeThreeHalves {
		panic("block: invalid epilogue mode")
	}
	return distStripAsm512(rows, &g[0], &na[0], &nb[0], &jidx[0], i0, c, mode, &flags[0], &rs[0], &col[0], o)
}

// distAccStripAVX2 is kernels.distStrip with AVX2: distStripAVX2, then
// accStripAVX2 and dotStripAVX2 over what it wrote.
func distAccStripAVX2(rows int, g, na, nb []float64, jidx *[nr]float64, i0, c float64, mode int, flags []uint8, rs, col, other []float64) (int, float64, float64) {
	n := distStripAVX2(rows, g, na, nb, jidx, i0, c, mode, flags)
	clear(rs[:max(rows, 0)])
	clear(col[:nr])
	sq := accStripAVX2(rows, g, rs, col)
	if other == nil {
		return n, sq, 0
	}
	return n, sq, dotStripAVX2(max(rows, 0)*nr, other, g)
}

func accStripAVX2(rows int, d, row, col []float64) float64 {
	_ = col[nr-1]
	if rows <= 0 {
		return 0
	}
	_ = d[rows*nr-1]
	_ = row[rows-1]
	return accStripAsm(rows, &d[0], &row[0], &col[0])
}

func dotStripAVX2(n int, a, b []float64) float64 {
	if n <= 0 {
		return 0
	}
	if n%nr != 0 {
		panic("block: dotStrip length not a multiple of nr")
	}
	_ = a[n-1]
	_ = b[n-1]
	return dotStripAsm(n/nr, &a[0], &b[0])
}

func packAVX2(dst, norms []float64, s Space, mu []float64, r0, m, w int) {
	packWith(dst, norms, s, mu, r0, m, w, 4, packRowsAVX2)
}

func packAVX512(dst, norms []float64, s Space, mu []float64, r0, m, w int) {
	packWith(dst, norms, s, mu, r0, m, w, 8, packRowsAVX512)
}

// packRowsAVX2 and packRowsAVX512 are the rows of packWith: they pack the
// coordinates q < dimg of the 4 (8) rows of src into blk[q·w + r + j].
func packRowsAVX2(blk []float64, r int, src, mu []float64, dimg int, norms []float64) {
	packRowsCheck(blk, r, src, mu, dimg, norms, 4)
	packAsm(&blk[r], len(blk)/(len(src)/4), &src[0], len(src)/4, dimg, &mu[0], &norms[0])
}

func packRowsAVX512(blk []float64, r int, src, mu []float64, dimg int, norms []float64) {
	packRowsCheck(blk, r, src, mu, dimg, norms, 8)
	packAsm512(&blk[r], len(blk)/(len(src)/8), &src[0], len(src)/8, dimg, &mu[0], &norms[0])
}

func packRowsCheck(blk []float64, r int, src, mu []float64, dimg int, norms []float64, g int) {
	dim := len(src) / g
	if dim == 0 || len(src) != g*dim || dimg <= 0 || dimg%g != 0 || dimg > dim || len(mu) < dimg || len(blk)%dim != 0 {
		panic("block: invalid pack block")
	}
	w := len(blk) / dim
	if r < 0 || r+g > w {
		panic("block: invalid pack block")
	}
	_ = blk[(dimg-1)*w+r+g-1]
	_ = norms[g-1]
}
