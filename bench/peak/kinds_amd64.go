//go:build !purego

package peak

import "golang.org/x/sys/cpu"

func kinds() []Kind {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	ks := []Kind{
		{Name: "avx2/float64", lanes: 4, acc: 12, loop: fma64x4},
		{Name: "avx2/float32", lanes: 8, acc: 12, loop: fma32x8},
	}
	if cpu.X86.HasAVX512F {
		ks = append(ks,
			Kind{Name: "avx512/float64", lanes: 8, acc: 24, loop: fma64x8},
			Kind{Name: "avx512/float32", lanes: 16, acc: 24, loop: fma32x16})
	}
	return ks
}
