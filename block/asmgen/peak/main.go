// Command peak writes bench/peak/fma_amd64.s and its Go declarations: the
// FMA peak probe, register-only loops of independent fused multiply-adds
// (no loads, no stores, no dependency between the accumulators of one
// iteration), in the widths and precisions of the kernels of block/:
//
//	go run ./peak -out ../../bench/peak/fma_amd64.s -stubs ../../bench/peak/fma_stubs_amd64.go -pkg peak
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	. "github.com/dcor-stream/dcor-stream/block/asmgen/internal/amd64"
)

func main() {
	ConstraintExpr("!purego")
	// AVX2: 12 YMM accumulators (4 cycles of latency × 2 FMA units need
	// 8 in flight), two YMM operands.
	loop("fma64x4", 12, Y, VFMADD231PD, VBROADCASTSD, 0x3ff0000000000000, "AVX2 float64, 12 YMM")
	loop("fma32x8", 12, Y, VFMADD231PS, VBROADCASTSS, 0x3f800000, "AVX2 float32, 12 YMM")
	// AVX-512: 24 ZMM accumulators.
	loop("fma64x8", 24, Z, VFMADD231PD, VBROADCASTSD, 0x3ff0000000000000, "AVX-512 float64, 24 ZMM")
	loop("fma32x16", 24, Z, VFMADD231PS, VBROADCASTSS, 0x3f800000, "AVX-512 float32, 24 ZMM")
	Generate()
}

// loop writes func name(n int): n iterations of acc FMAs acc_i += a·b
// on vector registers vec(0..acc-1), a and b in vec(acc), vec(acc+1),
// set by broadcast from the constant one (1.0 in the lane format).
func loop(name string, acc int, vec func(int) VecPhysical, fma func(...Op), bcast func(...Op), one uint64, what string) {
	TEXT(name, NOSPLIT, "func(n int)")
	Doc(fmt.Sprintf("%s runs n iterations of %d independent FMAs (%s).", name, acc, what))
	MOVQ(Arg("n"), RCX)
	MOVQ(U64(one), RAX)
	MOVQ(RAX, X0)
	a, b := vec(acc), vec(acc+1)
	bcast(X0, a)
	bcast(X0, b)
	for i := range acc {
		VXORPS(vec(i).AsY(), vec(i).AsY(), vec(i).AsY()) // zeroes the whole register
	}
	Label(name + "loop")
	for i := range acc {
		fma(a, b, vec(i))
	}
	DECQ(RCX)
	JNZ(LabelRef(name + "loop"))
	VZEROUPPER()
	RET()
}
