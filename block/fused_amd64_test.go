//go:build !purego

package block

import "golang.org/x/sys/cpu"

// kernelSets returns every strip-kernel set this CPU runs: pure Go, AVX2
// and, with AVX-512F, the AVX-512 Gram micro-kernel and epilogue.
func kernelSets() []kernels {
	sets := []kernels{goKernels()}
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return sets
	}
	avx2 := kernels{name: "avx2", gramStrip: gramStripAVX2, gramStripAcc: gramStripAccAVX2, distStrip: distAccStripAVX2, accStrip: accStripAVX2, dotStrip: dotStripAVX2, kernStrip: kernStripAVX2, pack: packAVX2, depthMin: avx2DepthMin}
	sets = append(sets, avx2)
	if cpu.X86.HasAVX512F {
		avx512 := avx2
		avx512.name, avx512.gramStrip, avx512.gramStripAcc, avx512.distStrip, avx512.kernStrip, avx512.pack, avx512.depthMin = "avx512", gramStripAVX512, gramStripAccAVX512, distStripAVX512, kernStripAVX512, packAVX512, 0
		sets = append(sets, avx512)
	}
	return sets
}
