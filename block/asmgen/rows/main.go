// Command rows writes block/rows_amd64.s and its Go declarations, the
// AVX2 row kernels of block/kernel.go: the fused univariate kernels
// (uni1, uni2), the direct differences (directRow, absRow) and raiseRow,
// a vectorised plan.raise for α = 2, 1, 0.5 and 1.5:
//
//	go run ./rows -out ../rows_amd64.s -stubs ../rows_stubs_amd64.go -pkg block
//
// Each kernel handles a multiple of 4 columns (4 doubles per YMM); the Go
// wrappers in block/rows_amd64.go do the rest. block/rows_lanes.go holds
// their Go twins, which add in the same order.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	. "github.com/dcor-stream/dcor-stream/block/asmgen/internal/amd64"
)

var absmask Mem

func main() {
	ConstraintExpr("!purego")
	absmask = GLOBL("absmask", RODATA|NOPTR)
	for i := range 4 {
		DATA(8*i, U64(0x7fffffffffffffff))
	}
	uni1()
	uni2()
	directRow()
	absRow()
	raiseRow()
	Generate()
}

// dist sets Y(dst) = |x - y|^α - c for the 4 columns at src, α = 2 if sq
// (t·t - c, as in Go: rounded product, then the subtraction), x in Y(x)
// and c in Y(c).
func dist(dst int, src Mem, x, c int, sq bool) {
	VMOVUPD(src, Y(dst))
	VSUBPD(Y(dst), Y(x), Y(dst))
	if sq {
		VMULPD(Y(dst), Y(dst), Y(dst))
	} else {
		VANDPD(absmask, Y(dst), Y(dst))
	}
	VSUBPD(Y(c), Y(dst), Y(dst))
}

func uni1() {
	TEXT("uni1Asm", NOSPLIT, "func(n int, x, c float64, sq bool, y, col *float64) (r, s float64)")
	Pragma("noescape")
	Doc("uni1Asm: for j < n (a multiple of 4), a_j = |x - y_j| - c (t·t - c,",
		"t = x - y_j, if sq); col[j] += a_j; returns sum a_j and sum a_j². Y0 x,",
		"Y1 c, Y2 and Y3 the sums, 16 columns per iteration (in Y4-Y7, added as",
		"a tree before the sums), then 4.")
	MOVQ(Arg("n"), RCX)
	VBROADCASTSD(Arg("x"), Y0)
	VBROADCASTSD(Arg("c"), Y1)
	MOVBLZX(Arg("sq"), EAX)
	MOVQ(Arg("y"), RSI)
	MOVQ(Arg("col"), RDI)
	VXORPD(Y2, Y2, Y2)
	VXORPD(Y3, Y3, Y3)
	MOVQ(RCX, RDX)
	SHRQ(U8(4), RCX)
	ANDQ(U8(15), RDX)
	SHRQ(U8(2), RDX)
	TESTQ(RAX, RAX)
	JNZ(LabelRef("u1sq"))
	for _, sq := range []bool{false, true} {
		lab := "u1abs"
		if sq {
			lab = "u1sq"
			Label("u1sq")
		}
		TESTQ(RCX, RCX)
		JZ(LabelRef(lab + "tail"))
		Label(lab + "loop")
		for h := range 4 {
			dist(4+h, M(RSI, h*32), 0, 1, sq)
		}
		for h := range 4 {
			VADDPD(M(RDI, h*32), Y(4+h), Y(8+h))
			VMOVUPD(Y(8+h), M(RDI, h*32))
		}
		// squares: Y8 = a0² + a1², Y9 = a2² + a3²
		VMULPD(Y4, Y4, Y8)
		VFMADD231PD(Y5, Y5, Y8)
		VMULPD(Y6, Y6, Y9)
		VFMADD231PD(Y7, Y7, Y9)
		VADDPD(Y9, Y8, Y8)
		VADDPD(Y8, Y3, Y3)
		VADDPD(Y5, Y4, Y4)
		VADDPD(Y7, Y6, Y6)
		VADDPD(Y6, Y4, Y4)
		VADDPD(Y4, Y2, Y2)
		ADDQ(U8(128), RSI)
		ADDQ(U8(128), RDI)
		DECQ(RCX)
		JNZ(LabelRef(lab + "loop"))
		Label(lab + "tail")
		TESTQ(RDX, RDX)
		JZ(LabelRef("u1done"))
		Label(lab + "tloop")
		dist(4, M(RSI, 0), 0, 1, sq)
		VADDPD(M(RDI, 0), Y4, Y8)
		VMOVUPD(Y8, M(RDI, 0))
		VADDPD(Y4, Y2, Y2)
		VFMADD231PD(Y4, Y4, Y3)
		ADDQ(U8(32), RSI)
		ADDQ(U8(32), RDI)
		DECQ(RDX)
		JNZ(LabelRef(lab + "tloop"))
		JMP(LabelRef("u1done"))
	}
	Label("u1done")
	HSum4(2, 4)
	HSum4(3, 5)
	VMOVSD(X2, Ret(0))
	VMOVSD(X3, Ret(1))
	VZEROUPPER()
	RET()
}

func uni2() {
	TEXT("uni2Asm", NOSPLIT, "func(n int, xa, xb, ca, cb float64, sq bool, ya, yb, colA, colB *float64) (ra, rb, saa, sab, sbb float64)")
	Pragma("noescape")
	Doc("uni2Asm is uni1Asm for two spaces: a_j from xa, ya_j, ca and b_j from",
		"xb, yb_j, cb; returns the sums of a, b, a², ab and b². Y0-Y3 xa, xb, ca,",
		"cb, Y4-Y8 the sums, 8 columns per iteration (a in Y9, Y10, b in Y11,",
		"Y12), then 4.")
	MOVQ(Arg("n"), RCX)
	VBROADCASTSD(Arg("xa"), Y0)
	VBROADCASTSD(Arg("xb"), Y1)
	VBROADCASTSD(Arg("ca"), Y2)
	VBROADCASTSD(Arg("cb"), Y3)
	MOVBLZX(Arg("sq"), EAX)
	MOVQ(Arg("ya"), RSI)
	MOVQ(Arg("yb"), RBX)
	MOVQ(Arg("colA"), RDI)
	MOVQ(Arg("colB"), R8)
	for y := 4; y < 9; y++ {
		VXORPD(Y(y), Y(y), Y(y))
	}
	MOVQ(RCX, RDX)
	SHRQ(U8(3), RCX)
	ANDQ(U8(7), RDX)
	SHRQ(U8(2), RDX)
	TESTQ(RAX, RAX)
	JNZ(LabelRef("u2sq"))
	for _, sq := range []bool{false, true} {
		lab := "u2abs"
		if sq {
			lab = "u2sq"
			Label("u2sq")
		}
		TESTQ(RCX, RCX)
		JZ(LabelRef(lab + "tail"))
		Label(lab + "loop")
		dist(9, M(RSI, 0), 0, 2, sq)
		dist(10, M(RSI, 32), 0, 2, sq)
		dist(11, M(RBX, 0), 1, 3, sq)
		dist(12, M(RBX, 32), 1, 3, sq)
		VADDPD(M(RDI, 0), Y9, Y13)
		VMOVUPD(Y13, M(RDI, 0))
		VADDPD(M(RDI, 32), Y10, Y14)
		VMOVUPD(Y14, M(RDI, 32))
		VADDPD(M(R8, 0), Y11, Y15)
		VMOVUPD(Y15, M(R8, 0))
		VADDPD(M(R8, 32), Y12, Y13)
		VMOVUPD(Y13, M(R8, 32))
		VMULPD(Y9, Y9, Y13)
		VFMADD231PD(Y10, Y10, Y13)
		VADDPD(Y13, Y6, Y6)
		VMULPD(Y11, Y9, Y14)
		VFMADD231PD(Y12, Y10, Y14)
		VADDPD(Y14, Y7, Y7)
		VMULPD(Y11, Y11, Y15)
		VFMADD231PD(Y12, Y12, Y15)
		VADDPD(Y15, Y8, Y8)
		VADDPD(Y10, Y9, Y9)
		VADDPD(Y9, Y4, Y4)
		VADDPD(Y12, Y11, Y11)
		VADDPD(Y11, Y5, Y5)
		ADDQ(U8(64), RSI)
		ADDQ(U8(64), RBX)
		ADDQ(U8(64), RDI)
		ADDQ(U8(64), R8)
		DECQ(RCX)
		JNZ(LabelRef(lab + "loop"))
		Label(lab + "tail")
		TESTQ(RDX, RDX)
		JZ(LabelRef("u2done"))
		dist(9, M(RSI, 0), 0, 2, sq)
		dist(11, M(RBX, 0), 1, 3, sq)
		VADDPD(M(RDI, 0), Y9, Y13)
		VMOVUPD(Y13, M(RDI, 0))
		VADDPD(M(R8, 0), Y11, Y15)
		VMOVUPD(Y15, M(R8, 0))
		VADDPD(Y9, Y4, Y4)
		VADDPD(Y11, Y5, Y5)
		VFMADD231PD(Y9, Y9, Y6)
		VFMADD231PD(Y11, Y9, Y7)
		VFMADD231PD(Y11, Y11, Y8)
		JMP(LabelRef("u2done"))
	}
	Label("u2done")
	for y := 4; y < 9; y++ {
		HSum4(y, 13)
	}
	for i := range 5 {
		VMOVSD(X(4+i), Ret(i))
	}
	VZEROUPPER()
	RET()
}

func directRow() {
	TEXT("directRowAsm", NOSPLIT, "func(n, dim int, xi, b *float64, stride int, d *float64)")
	Pragma("noescape")
	Doc("directRowAsm: for j < n (a multiple of 4), d[j] = sum_q (xi[q] -",
		"b[q·stride + j])², q < dim (>= 1), summed in q order by FMA. Blocks of",
		"16 columns in Y0-Y3, then of 4 in Y0; Y15 the broadcast coordinate.")
	MOVQ(Arg("n"), RCX)
	MOVQ(Arg("dim"), R9)
	MOVQ(Arg("xi"), RSI)
	MOVQ(Arg("b"), RBX)
	MOVQ(Arg("stride"), R12)
	MOVQ(Arg("d"), RDI)
	SHLQ(U8(3), R12)
	MOVQ(RCX, RDX)
	SHRQ(U8(4), RCX)
	ANDQ(U8(15), RDX)
	SHRQ(U8(2), RDX)
	TESTQ(RCX, RCX)
	JZ(LabelRef("drtail"))
	Label("drblock")
	for v := range 4 {
		VXORPD(Y(v), Y(v), Y(v))
	}
	MOVQ(RSI, R10)
	MOVQ(RBX, R11)
	MOVQ(R9, R13)
	Label("drq")
	VBROADCASTSD(Mem{Base: R10}, Y15)
	for v := range 4 {
		VSUBPD(M(R11, v*32), Y15, Y(4+v))
		VFMADD231PD(Y(4+v), Y(4+v), Y(v))
	}
	ADDQ(U8(8), R10)
	ADDQ(R12, R11)
	DECQ(R13)
	JNZ(LabelRef("drq"))
	for v := range 4 {
		VMOVUPD(Y(v), M(RDI, v*32))
	}
	ADDQ(U8(128), RBX)
	ADDQ(U8(128), RDI)
	DECQ(RCX)
	JNZ(LabelRef("drblock"))
	Label("drtail")
	TESTQ(RDX, RDX)
	JZ(LabelRef("drdone"))
	Label("drtblock")
	VXORPD(Y0, Y0, Y0)
	MOVQ(RSI, R10)
	MOVQ(RBX, R11)
	MOVQ(R9, R13)
	Label("drtq")
	VBROADCASTSD(Mem{Base: R10}, Y15)
	VSUBPD(Mem{Base: R11}, Y15, Y4)
	VFMADD231PD(Y4, Y4, Y0)
	ADDQ(U8(8), R10)
	ADDQ(R12, R11)
	DECQ(R13)
	JNZ(LabelRef("drtq"))
	VMOVUPD(Y0, Mem{Base: RDI})
	ADDQ(U8(32), RBX)
	ADDQ(U8(32), RDI)
	DECQ(RDX)
	JNZ(LabelRef("drtblock"))
	Label("drdone")
	VZEROUPPER()
	RET()
}

func absRow() {
	TEXT("absRowAsm", NOSPLIT, "func(n int, x, c float64, sq bool, b, d *float64)")
	Pragma("noescape")
	Doc("absRowAsm: for j < n (a multiple of 4), d[j] = |x - b[j]| - c (t·t -",
		"c, t = x - b[j], if sq). Y0 x, Y1 c.")
	MOVQ(Arg("n"), RCX)
	VBROADCASTSD(Arg("x"), Y0)
	VBROADCASTSD(Arg("c"), Y1)
	MOVBLZX(Arg("sq"), EAX)
	MOVQ(Arg("b"), RSI)
	MOVQ(Arg("d"), RDI)
	MOVQ(RCX, RDX)
	SHRQ(U8(4), RCX)
	ANDQ(U8(15), RDX)
	SHRQ(U8(2), RDX)
	TESTQ(RAX, RAX)
	JNZ(LabelRef("arsq"))
	for _, sq := range []bool{false, true} {
		lab := "arabs"
		if sq {
			lab = "arsq"
			Label("arsq")
		}
		TESTQ(RCX, RCX)
		JZ(LabelRef(lab + "tail"))
		Label(lab + "loop")
		for h := range 4 {
			dist(4+h, M(RSI, h*32), 0, 1, sq)
		}
		for h := range 4 {
			VMOVUPD(Y(4+h), M(RDI, h*32))
		}
		ADDQ(U8(128), RSI)
		ADDQ(U8(128), RDI)
		DECQ(RCX)
		JNZ(LabelRef(lab + "loop"))
		Label(lab + "tail")
		TESTQ(RDX, RDX)
		JZ(LabelRef("ardone"))
		Label(lab + "tloop")
		dist(4, M(RSI, 0), 0, 1, sq)
		VMOVUPD(Y4, M(RDI, 0))
		ADDQ(U8(32), RSI)
		ADDQ(U8(32), RDI)
		DECQ(RDX)
		JNZ(LabelRef(lab + "tloop"))
		JMP(LabelRef("ardone"))
	}
	Label("ardone")
	VZEROUPPER()
	RET()
}

func raiseRow() {
	TEXT("raiseRowAsm", NOSPLIT, "func(n, mode int, c float64, d *float64)")
	Pragma("noescape")
	Doc("raiseRowAsm: for j < n (a multiple of 4), in place, d[j] = d[j]^(α/2)",
		"- c, α = 2, 1, 0.5, 1.5 for mode 0-3 (modeTwo, …); r·sqrt(r), r =",
		"sqrt(d), for 1.5. VSQRTPD is correctly rounded, as math.Sqrt: the",
		"results equal plan.raise's. Y0 c.")
	type raise struct {
		label string
		emit  func(y int)
	}
	raises := []raise{
		{"rtwo", func(y int) {}},
		{"rone", func(y int) { VSQRTPD(Y(y), Y(y)) }},
		{"rhalf", func(y int) { VSQRTPD(Y(y), Y(y)); VSQRTPD(Y(y), Y(y)) }},
		{"rthree", func(y int) { VSQRTPD(Y(y), Y(y)); VSQRTPD(Y(y), Y(y+4)); VMULPD(Y(y+4), Y(y), Y(y)) }},
	}
	MOVQ(Arg("n"), RCX)
	MOVQ(Arg("mode"), RAX)
	VBROADCASTSD(Arg("c"), Y0)
	MOVQ(Arg("d"), RDI)
	MOVQ(RCX, RDX)
	SHRQ(U8(4), RCX)
	ANDQ(U8(15), RDX)
	SHRQ(U8(2), RDX)
	for m := 1; m < 4; m++ {
		CMPQ(RAX, U8(m))
		JEQ(LabelRef(raises[m].label))
	}
	for _, ra := range raises {
		lab := ra.label
		Label(lab)
		TESTQ(RCX, RCX)
		JZ(LabelRef(lab + "tail"))
		Label(lab + "loop")
		for h := range 4 {
			VMOVUPD(M(RDI, h*32), Y(1+h))
		}
		for h := range 4 {
			ra.emit(1 + h)
		}
		for h := range 4 {
			VSUBPD(Y0, Y(1+h), Y(1+h))
			VMOVUPD(Y(1+h), M(RDI, h*32))
		}
		ADDQ(U8(128), RDI)
		DECQ(RCX)
		JNZ(LabelRef(lab + "loop"))
		Label(lab + "tail")
		TESTQ(RDX, RDX)
		JZ(LabelRef("rdone"))
		Label(lab + "tloop")
		VMOVUPD(Mem{Base: RDI}, Y1)
		ra.emit(1)
		VSUBPD(Y0, Y1, Y1)
		VMOVUPD(Y1, Mem{Base: RDI})
		ADDQ(U8(32), RDI)
		DECQ(RDX)
		JNZ(LabelRef(lab + "tloop"))
		JMP(LabelRef("rdone"))
	}
	Label("rdone")
	VZEROUPPER()
	RET()
}
