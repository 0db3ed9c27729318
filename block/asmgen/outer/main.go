// Command outer writes estimator/outer_amd64.s and its Go declarations,
// the AVX2 kernel of the feature-space sums of linear CKA
// (estimator/outer.go):
//
//	go run ./outer -out ../../estimator/outer_amd64.s -stubs ../../estimator/outer_stubs_amd64.go -pkg estimator
//
// Each entry of the sum is accumulated over the rows in their order, by a
// product rounded on its own and an addition (no FMA), as its Go twin
// outerAddGo does, so that both give the same bits.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	. "github.com/dcor-stream/dcor-stream/block/asmgen/internal/amd64"
)

func main() {
	ConstraintExpr("!purego")
	TEXT("outerAsm", NOSPLIT, "func(m, d, e, cols int, x, y, c *float64)")
	Pragma("noescape")
	Doc("outerAsm adds to c (d×e, row-major) the products of the m rows of x",
		"(m×d) and y (m×e): c[q·e + r] += x[i·d + q]·y[i·e + r] for i = 0..m−1",
		"in order, for the rows q < d (a multiple of 2) and the columns r < cols",
		"(a multiple of 16). Each block of 16 entries of two rows of c stays in",
		"Y0-Y7 over the rows i, which load the 16 entries of y once for both",
		"(Y8-Y11); Y12 and Y13 the broadcast x, Y14 the products.")
	MOVQ(Arg("m"), R8)
	MOVQ(Arg("d"), R13)
	MOVQ(Arg("e"), R10)
	MOVQ(Arg("cols"), R11)
	MOVQ(Arg("x"), RSI)
	MOVQ(Arg("y"), RBX)
	MOVQ(Arg("c"), RDI)
	TESTQ(R8, R8)
	JZ(LabelRef("odone"))
	TESTQ(R11, R11)
	JZ(LabelRef("odone"))
	SHRQ(U8(1), R13) // pairs of rows of c
	JZ(LabelRef("odone"))
	MOVQ(Arg("d"), R9)
	SHLQ(U8(3), R9)  // x's row stride in bytes
	SHLQ(U8(3), R10) // y's and c's
	SHLQ(U8(3), R11) // the columns in bytes
	Label("orow")
	// Rows q, q+1 of c at DI, DI+R10; &x[q] at SI; R12 the block's
	// offset in the row.
	XORQ(R12, R12)
	Label("oblock")
	LEAQ(MI(RDI, R10, 1), RDX)
	cm := func(base Register, v int) Mem { return Mem{Base: base, Index: R12, Scale: 1, Disp: 32 * v} }
	for v := range 4 {
		VMOVUPD(cm(RDI, v), Y(v))
		VMOVUPD(cm(RDX, v), Y(4+v))
	}
	MOVQ(RSI, RAX)
	LEAQ(MI(RBX, R12, 1), RDX)
	MOVQ(R8, RCX)
	Label("oi")
	for v := range 4 {
		VMOVUPD(M(RDX, 32*v), Y(8+v))
	}
	VBROADCASTSD(M(RAX, 0), Y12)
	VBROADCASTSD(M(RAX, 8), Y13)
	for v := range 4 {
		VMULPD(Y(8+v), Y12, Y14)
		VADDPD(Y14, Y(v), Y(v))
		VMULPD(Y(8+v), Y13, Y14)
		VADDPD(Y14, Y(4+v), Y(4+v))
	}
	ADDQ(R9, RAX)
	ADDQ(R10, RDX)
	DECQ(RCX)
	JNZ(LabelRef("oi"))
	LEAQ(MI(RDI, R10, 1), RDX)
	for v := range 4 {
		VMOVUPD(Y(v), cm(RDI, v))
		VMOVUPD(Y(4+v), cm(RDX, v))
	}
	ADDQ(U8(128), R12)
	CMPQ(R12, R11)
	JNE(LabelRef("oblock"))
	LEAQ(MI(RDI, R10, 2), RDI)
	ADDQ(U8(16), RSI)
	DECQ(R13)
	JNZ(LabelRef("orow"))
	Label("odone")
	VZEROUPPER()
	RET()
	Generate()
}
