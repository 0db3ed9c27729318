// Command fused writes block/fused_amd64.s and its Go declarations, the
// float64 strip kernels of block/fused.go for mr = 8, nr = 24 (AVX2 + FMA,
// and the AVX-512 Gram micro-kernel and epilogue):
//
//	go run ./fused -out ../fused_amd64.s -stubs ../fused_stubs_amd64.go -pkg block
//
// Element (r, q) of a block of the packed I panel is at 8·q + r doubles,
// element (c, q) of the packed J strip at 24·q + c; the strip buffer is
// row-major with rows of 24 doubles (192 bytes). Each kernel's summation
// order is the one its Go twin in block/fused.go follows, so that every
// kernel set gives the same bits (block/identity_test.go).
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
	gramStrip()
	gramStrip512()
	gramStripAcc()
	gramStripAcc512()
	distStrip()
	distStrip512()
	accStrip()
	dotStrip()
	kernStrip()
	kernStrip512()
	pack()
	pack512()
	Generate()
}

func gramStrip() {
	TEXT("gramStripAsm", NOSPLIT, "func(dim, nb int, a, b, gs *float64)")
	Pragma("noescape")
	Doc("gramStripAsm is gramStrip with AVX2: each 8×24 block as four 4×12",
		"blocks of 12 YMM accumulators (Y0-Y11; row r in Y(3r)..Y(3r+2)), three",
		"YMM for the strip row and one for a broadcast element of a row.")
	MOVQ(Arg("dim"), RCX)
	MOVQ(Arg("nb"), RDX)
	MOVQ(Arg("a"), RSI)
	MOVQ(Arg("b"), RBX)
	MOVQ(Arg("gs"), RDI)
	Label("gblock")
	for rh := range 2 {
		for ch := range 2 {
			lab := fmt.Sprintf("g%d%d", rh, ch)
			for r := range 12 {
				VXORPD(Y(r), Y(r), Y(r))
			}
			LEAQ(M(RSI, rh*32), R10)
			LEAQ(M(RBX, ch*96), R8)
			MOVQ(RCX, R9)
			Label(lab)
			VMOVUPD(M(R8, 0), Y12)
			VMOVUPD(M(R8, 32), Y13)
			VMOVUPD(M(R8, 64), Y14)
			for r := range 4 {
				VBROADCASTSD(M(R10, r*8), Y15)
				for v := range 3 {
					VFMADD231PD(Y(12+v), Y15, Y(3*r+v))
				}
			}
			ADDQ(U32(192), R8)
			ADDQ(U8(64), R10)
			DECQ(R9)
			JNZ(LabelRef(lab))
			for r := range 4 {
				for v := range 3 {
					VMOVUPD(Y(3*r+v), M(RDI, (rh*4+r)*192+ch*96+v*32))
				}
			}
		}
	}
	MOVQ(RCX, R9)
	SHLQ(U8(6), R9)
	ADDQ(R9, RSI)
	ADDQ(U32(1536), RDI)
	DECQ(RDX)
	JNZ(LabelRef("gblock"))
	VZEROUPPER()
	RET()
}

func gramStrip512() {
	TEXT("gramStripAsm512", NOSPLIT, "func(dim, nb int, a, b, gs *float64)")
	Pragma("noescape")
	Doc("gramStripAsm512 is gramStrip with AVX-512: each 8×24 block in 24 ZMM",
		"accumulators (Z0-Z23; row r in Z(3r)..Z(3r+2)), three ZMM for the strip",
		"row (Z24-Z26) and two for broadcast elements of the rows (Z27, Z28).")
	MOVQ(Arg("dim"), RCX)
	MOVQ(Arg("nb"), RDX)
	MOVQ(Arg("a"), RSI)
	MOVQ(Arg("b"), RBX)
	MOVQ(Arg("gs"), RDI)
	Label("zblock")
	for r := range 24 {
		VPXORQ(Z(r), Z(r), Z(r))
	}
	MOVQ(RBX, R8)
	MOVQ(RCX, R9)
	Label("zloop")
	VMOVUPD(M(R8, 0), Z24)
	VMOVUPD(M(R8, 64), Z25)
	VMOVUPD(M(R8, 128), Z26)
	for r := range 8 {
		z := Z(27 + r%2)
		VBROADCASTSD(M(RSI, r*8), z)
		for v := range 3 {
			VFMADD231PD(Z(24+v), z, Z(3*r+v))
		}
	}
	ADDQ(U32(192), R8)
	ADDQ(U8(64), RSI)
	DECQ(R9)
	JNZ(LabelRef("zloop"))
	for r := range 8 {
		for v := range 3 {
			VMOVUPD(Z(3*r+v), M(RDI, r*192+v*64))
		}
	}
	ADDQ(U32(1536), RDI)
	DECQ(RDX)
	JNZ(LabelRef("zblock"))
	VZEROUPPER()
	RET()
}

func gramStripAcc() {
	TEXT("gramStripAccAsm", NOSPLIT, "func(dim, nb, lda int, a, b, gs *float64)")
	Pragma("noescape")
	Doc("gramStripAccAsm is gramStripAsm for one block of the depth (see",
		"gramStripAcc): the accumulators start from gs rather than 0, and the",
		"blocks of a are lda doubles apart, so that the FMAs of each inner",
		"product are those of gramStripAsm, in the same order.")
	MOVQ(Arg("dim"), RCX)
	MOVQ(Arg("nb"), RDX)
	MOVQ(Arg("lda"), R11)
	MOVQ(Arg("a"), RSI)
	MOVQ(Arg("b"), RBX)
	MOVQ(Arg("gs"), RDI)
	SHLQ(U8(3), R11)
	Label("ablock")
	for rh := range 2 {
		for ch := range 2 {
			lab := fmt.Sprintf("a%d%d", rh, ch)
			for r := range 4 {
				for v := range 3 {
					VMOVUPD(M(RDI, (rh*4+r)*192+ch*96+v*32), Y(3*r+v))
				}
			}
			LEAQ(M(RSI, rh*32), R10)
			LEAQ(M(RBX, ch*96), R8)
			MOVQ(RCX, R9)
			Label(lab)
			VMOVUPD(M(R8, 0), Y12)
			VMOVUPD(M(R8, 32), Y13)
			VMOVUPD(M(R8, 64), Y14)
			for r := range 4 {
				VBROADCASTSD(M(R10, r*8), Y15)
				for v := range 3 {
					VFMADD231PD(Y(12+v), Y15, Y(3*r+v))
				}
			}
			ADDQ(U32(192), R8)
			ADDQ(U8(64), R10)
			DECQ(R9)
			JNZ(LabelRef(lab))
			for r := range 4 {
				for v := range 3 {
					VMOVUPD(Y(3*r+v), M(RDI, (rh*4+r)*192+ch*96+v*32))
				}
			}
		}
	}
	ADDQ(R11, RSI)
	ADDQ(U32(1536), RDI)
	DECQ(RDX)
	JNZ(LabelRef("ablock"))
	VZEROUPPER()
	RET()
}

func gramStripAcc512() {
	TEXT("gramStripAccAsm512", NOSPLIT, "func(dim, nb, lda int, a, b, gs *float64)")
	Pragma("noescape")
	Doc("gramStripAccAsm512 is gramStripAsm512 for one block of the depth (see",
		"gramStripAcc): the accumulators start from gs rather than 0, and the",
		"blocks of a are lda doubles apart.")
	MOVQ(Arg("dim"), RCX)
	MOVQ(Arg("nb"), RDX)
	MOVQ(Arg("lda"), R11)
	MOVQ(Arg("a"), R10)
	MOVQ(Arg("b"), RBX)
	MOVQ(Arg("gs"), RDI)
	SHLQ(U8(3), R11)
	Label("yblock")
	for r := range 8 {
		for v := range 3 {
			VMOVUPD(M(RDI, r*192+v*64), Z(3*r+v))
		}
	}
	MOVQ(R10, RSI)
	MOVQ(RBX, R8)
	MOVQ(RCX, R9)
	Label("yloop")
	VMOVUPD(M(R8, 0), Z24)
	VMOVUPD(M(R8, 64), Z25)
	VMOVUPD(M(R8, 128), Z26)
	for r := range 8 {
		z := Z(27 + r%2)
		VBROADCASTSD(M(RSI, r*8), z)
		for v := range 3 {
			VFMADD231PD(Z(24+v), z, Z(3*r+v))
		}
	}
	ADDQ(U32(192), R8)
	ADDQ(U8(64), RSI)
	DECQ(R9)
	JNZ(LabelRef("yloop"))
	for r := range 8 {
		for v := range 3 {
			VMOVUPD(Z(3*r+v), M(RDI, r*192+v*64))
		}
	}
	ADDQ(R11, R10)
	ADDQ(U32(1536), RDI)
	DECQ(RDX)
	JNZ(LabelRef("yblock"))
	VZEROUPPER()
	RET()
}

// epilogueModes are the labels of the four raise modes (modeTwo, modeOne,
// modeHalf, modeThreeHalves) and the raise of d² in register t (with
// temporary u), as in raiseMode.
type raise struct {
	label string
	emit  func(t, u Op)
}

func raises(prefix string) []raise {
	return []raise{
		{prefix + "two", func(t, u Op) {}},
		{prefix + "one", func(t, u Op) { VSQRTPD(t, t) }},
		{prefix + "half", func(t, u Op) { VSQRTPD(t, t); VSQRTPD(t, t) }},
		{prefix + "three", func(t, u Op) { VSQRTPD(t, t); VSQRTPD(t, u); VMULPD(u, t, t) }},
	}
}

// modeSwitch jumps on the mode in R11 to the label of rs.
func modeSwitch(rs []raise) {
	for m := 1; m < 4; m++ {
		CMPQ(R11, U8(m))
		JEQ(LabelRef(rs[m].label))
	}
}

func distStrip() {
	TEXT("distStripAsm", NOSPLIT, "func(rows int, gs, na, nb, jidx *float64, i0, c float64, mode int, flags *uint8) int")
	Pragma("noescape")
	Doc("distStripAsm is distStrip with AVX2. Registers: Y0-Y4 temporaries,",
		"X8 1.0, X9 the row index i, Y10 the refinement flags of the row, Y11",
		"|x_i|², Y12 i, Y13 the shift c, Y14 zero, Y15 refineTol; BX the column",
		"norms, DX jidx.")
	MOVQ(Arg("rows"), RCX)
	MOVQ(Arg("gs"), RDI)
	MOVQ(Arg("na"), RSI)
	MOVQ(Arg("nb"), RBX)
	MOVQ(Arg("jidx"), RDX)
	MOVSD(Arg("i0"), X9)
	VBROADCASTSD(Arg("c"), Y13)
	MOVQ(Arg("mode"), R11)
	MOVQ(Arg("flags"), R8)
	XORQ(R9, R9)
	MOVQ(U64(0x3eb0c6f7a0b5ed8d), RAX)
	Comment("1e-6 = refineTol")
	MOVQ(RAX, X15)
	VBROADCASTSD(X15, Y15)
	MOVQ(U64(0x3ff0000000000000), RAX)
	MOVQ(RAX, X8)
	VXORPD(Y14, Y14, Y14)
	rs := raises("d")
	modeSwitch(rs)
	for _, ra := range rs {
		Label(ra.label)
		VBROADCASTSD(Mem{Base: RSI}, Y11)
		VBROADCASTSD(X9, Y12)
		VXORPD(Y10, Y10, Y10)
		for v := range 6 {
			off := v * 32
			// Y1 = clamped d² of 4 pairs, Y3 = mask of the valid pairs
			// (i < jidx); ORs into Y10 the valid pairs with
			// d² < refineTol·(|x_i|²+|x_j|²).
			VADDPD(M(RBX, off), Y11, Y0)
			VMOVUPD(M(RDI, off), Y1)
			VADDPD(Y1, Y1, Y1)
			VSUBPD(Y1, Y0, Y1)
			VMULPD(Y15, Y0, Y0)
			VCMPPD(U8(0x11), Y0, Y1, Y2)
			VCMPPD(U8(0x11), M(RDX, off), Y12, Y3)
			VANDPD(Y3, Y2, Y2)
			VORPD(Y2, Y10, Y10)
			VMAXPD(Y14, Y1, Y1)
			ra.emit(Y1, Y4)
			// Stores Y1 - c on the valid pairs, 0 elsewhere.
			VSUBPD(Y13, Y1, Y1)
			VANDPD(Y3, Y1, Y1)
			VMOVUPD(Y1, M(RDI, off))
		}
		VMOVMSKPD(Y10, EAX)
		XORL(R10L, R10L)
		TESTL(EAX, EAX)
		SETNE(R10B)
		MOVB(R10B, Mem{Base: R8})
		ADDQ(R10, R9)
		ADDQ(U32(192), RDI)
		ADDQ(U8(8), RSI)
		INCQ(R8)
		VADDSD(X8, X9, X9)
		DECQ(RCX)
		JNZ(LabelRef(ra.label))
		JMP(LabelRef("ddone"))
	}
	Label("ddone")
	MOVQ(R9, Ret(0))
	VZEROUPPER()
	RET()
}

func distStrip512() {
	TEXT("distStripAsm512", NOSPLIT, "func(rows int, gs, na, nb, jidx *float64, i0, c float64, mode int, flags *uint8, rs, col, other *float64) (nflag int, sq, dot float64)")
	Pragma("noescape")
	Doc("distStripAsm512 is distStrip with AVX-512, 8 pairs per instruction,",
		"which also sums what it stores in the order of accStripGo: rs[r] =",
		"sum_c a'_rc, col[c] = sum_r a'_rc and sq = sum a'²; and, if other is",
		"not nil (another space's strip of as many rows), dot = sum other·a' in",
		"the order of dotStripGo (else 0).",
		"Registers: Z0-Z5 temporaries, X8 1.0, X9 the row index i, K4 the",
		"refinement flags of the row, K3 the valid pairs of a vector, Z11",
		"|x_i|², Z12 i, Z13 the shift c, Z14 zero, Z15 refineTol, Z17-Z19",
		"jidx, Z20-Z22 the column norms, Y6 the sum of the row, Z23-Z25 the",
		"column sums, Z26 the sums of squares, Z27-Z29 the products with other",
		"(column c in lane c mod 8 of Z(27 + c/8)); R13 the row sums, R14 other.")
	MOVQ(Arg("rows"), RCX)
	MOVQ(Arg("gs"), RDI)
	MOVQ(Arg("na"), RSI)
	MOVQ(Arg("nb"), RBX)
	MOVQ(Arg("jidx"), RDX)
	MOVSD(Arg("i0"), X9)
	VBROADCASTSD(Arg("c"), Z13)
	MOVQ(Arg("mode"), R11)
	MOVQ(Arg("flags"), R8)
	MOVQ(Arg("rs"), R13)
	MOVQ(Arg("other"), R14)
	XORQ(R9, R9)
	MOVQ(U64(0x3eb0c6f7a0b5ed8d), RAX)
	Comment("1e-6 = refineTol")
	VPBROADCASTQ(RAX, Z15)
	MOVQ(U64(0x3ff0000000000000), RAX)
	MOVQ(RAX, X8)
	VPXORQ(Z14, Z14, Z14)
	for v := range 3 {
		VMOVUPD(M(RDX, 64*v), Z(17+v))
	}
	for v := range 3 {
		VMOVUPD(M(RBX, 64*v), Z(20+v))
	}
	for r := 23; r < 30; r++ {
		VPXORQ(Z(r), Z(r), Z(r))
	}
	rs := raises("z")
	rsDot := raises("zp") // "zd" + "one" would be zdone
	TESTQ(R14, R14)
	JNZ(LabelRef("zdot"))
	modeSwitch(rs)
	JMP(LabelRef(rs[0].label))
	Label("zdot")
	modeSwitch(rsDot)
	JMP(LabelRef(rsDot[0].label))
	for i, ra := range append(rs, rsDot...) {
		dot := i >= len(rs)
		Label(ra.label)
		VBROADCASTSD(Mem{Base: RSI}, Z11)
		VBROADCASTSD(X9, Z12)
		KXORW(K4, K4, K4)
		for v := range 3 {
			// Z1 = clamped d² of 8 pairs, K3 = the valid pairs (i <
			// jidx); ORs into K4 the valid pairs with d² <
			// refineTol·(|x_i|²+|x_j|²). The same float64 operations as
			// distStripGo, so the same results.
			VADDPD(Z(20+v), Z11, Z0)
			VMOVUPD(M(RDI, v*64), Z1)
			VADDPD(Z1, Z1, Z1)
			VSUBPD(Z1, Z0, Z1)
			VCMPPD(U8(0x11), Z(17+v), Z12, K3)
			VMULPD(Z15, Z0, Z0)
			VCMPPD(U8(0x11), Z0, Z1, K3, K1)
			KORW(K1, K4, K4)
			VMAXPD(Z14, Z1, Z1)
			ra.emit(Z1, Z4)
			VSUBPD_Z(Z13, Z1, K3, Z1)
			VMOVUPD(Z1, M(RDI, v*64))
			// The sums, as in distStrip32Asm512: the columns, the squares
			// in 8 lanes, and the row in 4 lanes (the 6 vectors of 4
			// columns, the halves of the 3 ZMM, added in order).
			VADDPD(Z1, Z(23+v), Z(23+v))
			VFMADD231PD(Z1, Z1, Z26)
			if dot {
				VFMADD231PD(M(R14, v*64), Z1, Z(27+v))
			}
			VEXTRACTF64X4(U8(1), Z1, Y7)
			if v == 0 {
				VADDPD(Y7, Y1, Y6)
			} else {
				VADDPD(Y1, Y6, Y6)
				VADDPD(Y7, Y6, Y6)
			}
		}
		VEXTRACTF128(U8(1), Y6, X7)
		VADDPD(X7, X6, X6)
		VPERMILPD(U8(1), X6, X7)
		VADDSD(X7, X6, X6)
		VMOVSD(X6, Mem{Base: R13})
		XORL(R10L, R10L)
		KORTESTW(K4, K4)
		SETNE(R10B)
		MOVB(R10B, Mem{Base: R8})
		ADDQ(R10, R9)
		ADDQ(U32(192), RDI)
		ADDQ(U8(8), RSI)
		ADDQ(U8(8), R13)
		if dot {
			ADDQ(U32(192), R14)
		}
		INCQ(R8)
		VADDSD(X8, X9, X9)
		DECQ(RCX)
		JNZ(LabelRef(ra.label))
		JMP(LabelRef("zdone"))
	}
	Label("zdone")
	MOVQ(R9, Ret(0))
	MOVQ(Arg("col"), RAX)
	VMOVUPD(Z23, M(RAX, 0))
	VMOVUPD(Z24, M(RAX, 64))
	VMOVUPD(Z25, M(RAX, 128))
	VMOVAPD(Z26, Z0)
	VEXTRACTF64X4(U8(1), Z0, Y1)
	VADDPD(Y1, Y0, Y0)
	VEXTRACTF128(U8(1), Y0, X1)
	VADDPD(X1, X0, X0)
	VPERMILPD(U8(1), X0, X1)
	VADDSD(X1, X0, X0)
	VMOVSD(X0, Ret(1))
	// dot: ((A0+A1) + (A2+A3)) + (A4+A5) over the vectors A_v of 4
	// columns (the halves of Z27-Z29), then the lanes (l0+l2) + (l1+l3).
	VMOVAPD(Z27, Z0)
	VEXTRACTF64X4(U8(1), Z0, Y1)
	VADDPD(Y1, Y0, Y0)
	VMOVAPD(Z28, Z2)
	VEXTRACTF64X4(U8(1), Z2, Y3)
	VADDPD(Y3, Y2, Y2)
	VADDPD(Y2, Y0, Y0)
	VMOVAPD(Z29, Z2)
	VEXTRACTF64X4(U8(1), Z2, Y3)
	VADDPD(Y3, Y2, Y2)
	VADDPD(Y2, Y0, Y0)
	VEXTRACTF128(U8(1), Y0, X1)
	VADDPD(X1, X0, X0)
	VPERMILPD(U8(1), X0, X1)
	VADDSD(X1, X0, X0)
	VMOVSD(X0, Ret(2))
	VZEROUPPER()
	RET()
}

func accStrip() {
	TEXT("accStripAsm", NOSPLIT, "func(rows int, d, row, col *float64) float64")
	Pragma("noescape")
	Doc("accStripAsm is accStrip with AVX2. Column sums in Y0-Y5, sums of",
		"squares in Y6 (columns 4v..4v+3 for even v) and Y7 (odd v), each row",
		"summed in Y9 (vector by vector), then horizontally, and added to",
		"row[r]: the order of accStripGo.")
	MOVQ(Arg("rows"), RCX)
	MOVQ(Arg("d"), RDI)
	MOVQ(Arg("row"), RSI)
	MOVQ(Arg("col"), RBX)
	for v := range 6 {
		VMOVUPD(M(RBX, v*32), Y(v))
	}
	VXORPD(Y6, Y6, Y6)
	VXORPD(Y7, Y7, Y7)
	Label("aloop")
	VMOVUPD(M(RDI, 0), Y8)
	VMOVUPD(M(RDI, 32), Y10)
	VADDPD(Y8, Y0, Y0)
	VADDPD(Y10, Y1, Y1)
	VFMADD231PD(Y8, Y8, Y6)
	VFMADD231PD(Y10, Y10, Y7)
	VADDPD(Y10, Y8, Y9)
	for v := 2; v < 6; v++ {
		r := Y8
		if v%2 == 1 {
			r = Y10
		}
		VMOVUPD(M(RDI, v*32), r)
		VADDPD(r, Y(v), Y(v))
		VFMADD231PD(r, r, Y(6+v%2))
		VADDPD(r, Y9, Y9)
	}
	VEXTRACTF128(U8(1), Y9, X11)
	VADDPD(X11, X9, X9)
	VPERMILPD(U8(1), X9, X11)
	VADDSD(X11, X9, X9)
	VADDSD(Mem{Base: RSI}, X9, X9)
	VMOVSD(X9, Mem{Base: RSI})
	ADDQ(U32(192), RDI)
	ADDQ(U8(8), RSI)
	DECQ(RCX)
	JNZ(LabelRef("aloop"))
	for v := range 6 {
		VMOVUPD(Y(v), M(RBX, v*32))
	}
	VADDPD(Y7, Y6, Y6)
	VEXTRACTF128(U8(1), Y6, X7)
	VADDPD(X7, X6, X6)
	VPERMILPD(U8(1), X6, X7)
	VADDSD(X7, X6, X6)
	VMOVSD(X6, Ret(0))
	VZEROUPPER()
	RET()
}

func dotStrip() {
	TEXT("dotStripAsm", NOSPLIT, "func(blocks int, a, b *float64) float64")
	Pragma("noescape")
	Doc("dotStripAsm is dotStrip with AVX2: the sum of a[x]·b[x] over",
		"24·blocks elements, in six YMM accumulators (x mod 24 in lane x mod 4",
		"of Y(x mod 24 / 4)), then ((Y0+Y1) + (Y2+Y3)) + (Y4+Y5) and the lanes",
		"as (l0+l2) + (l1+l3): the order of dotStripGo.")
	MOVQ(Arg("blocks"), RCX)
	MOVQ(Arg("a"), RSI)
	MOVQ(Arg("b"), RDI)
	for v := range 6 {
		VXORPD(Y(v), Y(v), Y(v))
	}
	Label("dloop")
	for v := range 6 {
		VMOVUPD(M(RSI, v*32), Y(6+v))
		VFMADD231PD(M(RDI, v*32), Y(6+v), Y(v))
	}
	ADDQ(U32(192), RSI)
	ADDQ(U32(192), RDI)
	DECQ(RCX)
	JNZ(LabelRef("dloop"))
	VADDPD(Y1, Y0, Y0)
	VADDPD(Y3, Y2, Y2)
	VADDPD(Y5, Y4, Y4)
	VADDPD(Y2, Y0, Y0)
	VADDPD(Y4, Y0, Y0)
	HSum4(0, 1)
	VMOVSD(X0, Ret(0))
	VZEROUPPER()
	RET()
}

// kernStrip writes kernStripAsm, the Gaussian kernel's epilogue
// (block/rbf.go): from shifted distances a', the exponents of kernelArg
// then expShifted's operations in their order, 4 lanes at a time, each
// product and sum rounded on its own (no FMA), so that its bits are
// those of the Go loops.
var kernConst Mem

func kernStrip() {
	cst := GLOBL("kernconst", RODATA|NOPTR)
	kernConst = cst
	// P5, P4, P3, P2, P1, log2e, 0.5, ln2Hi, ln2Lo, 4 copies each.
	for i, v := range []float64{4.13813679705723846039e-08, -1.65339022054652515390e-06, 6.61375632143793436117e-05,
		-2.77777777770155933842e-03, 1.66666666666666657415e-01,
		1.44269504088896338700e+00, 0.5, 6.93147180369123816490e-01, 1.90821492927058770002e-10} {
		for l := range 4 {
			DATA(32*i+8*l, F64(v))
		}
	}
	TEXT("kernStripAsm", NOSPLIT, "func(n int, d, v *float64, gamma, ck, cs float64, mode int)")
	Pragma("noescape")
	Doc("kernStripAsm sets v[i] = e^x − cs for i < n, a multiple of 4, with",
		"u = max(0, d[i] + ck) and x = −(g·u²) (mode 1: α = 1), −(g·u) (mode 0:",
		"α = 2) or −(g·(u²)²) (mode 2: α = ½); e^x as detExp (0 below −708):",
		"k = trunc(log2e·x − 0.5), hi = x − k·ln2Hi, lo = k·ln2Lo, r = hi − lo,",
		"t = r², c = r − t·(P1 + t·(P2 + t·(P3 + t·(P4 + t·P5)))),",
		"y = 1 − ((lo − r·c/(2 − c)) − hi), y·2^k. Y0-Y6 temporaries; Y7 0,",
		"Y8 −708, Y9 2, Y10 1, Y11 2^52 + 1023, Y12 ck, Y13 g, Y14 cs, Y15 the",
		"sign bit; the other constants in memory.")
	MOVQ(Arg("n"), RCX)
	MOVQ(Arg("d"), RSI)
	MOVQ(Arg("v"), RDI)
	MOVQ(Arg("mode"), R11)
	for _, c := range []struct {
		reg  int
		bits uint64
	}{{8, 0xc086200000000000}, {9, 0x4000000000000000}, {10, 0x3ff0000000000000}, {11, 0x43300000000003ff}, {15, 0x8000000000000000}} {
		MOVQ(U64(c.bits), RAX)
		MOVQ(RAX, X(c.reg))
		VBROADCASTSD(X(c.reg), Y(c.reg))
	}
	VBROADCASTSD(Arg("ck"), Y12)
	VBROADCASTSD(Arg("gamma"), Y13)
	VBROADCASTSD(Arg("cs"), Y14)
	VXORPD(Y7, Y7, Y7)
	SHRQ(U8(2), RCX)
	JZ(LabelRef("kdone"))
	CMPQ(R11, U8(1))
	JEQ(LabelRef("kone"))
	CMPQ(R11, U8(2))
	JEQ(LabelRef("khalf"))
	for _, mode := range []string{"ktwo", "kone", "khalf"} {
		Label(mode)
		VMOVUPD(M(RSI, 0), Y0)
		VADDPD(Y12, Y0, Y0)
		VMAXPD(Y7, Y0, Y0) // max(0, a' + ck): never NaN or −0
		switch mode {
		case "kone":
			VMULPD(Y0, Y0, Y0)
		case "khalf":
			VMULPD(Y0, Y0, Y0)
			VMULPD(Y0, Y0, Y0)
		}
		VMULPD(Y13, Y0, Y0)
		VXORPD(Y15, Y0, Y0)       // x = −(g·d²)
		VCMPPD(U8(1), Y8, Y0, Y6) // x < −708
		VMULPD(cst.Offset(32*5), Y0, Y1)
		VSUBPD(cst.Offset(32*6), Y1, Y1)
		VROUNDPD(U8(3), Y1, Y1) // truncate, as int(·)
		VADDPD(Y7, Y1, Y1)      // −0 to +0, as float64(int(·))
		VMULPD(cst.Offset(32*7), Y1, Y2)
		VSUBPD(Y2, Y0, Y2)               // hi
		VMULPD(cst.Offset(32*8), Y1, Y3) // lo
		VSUBPD(Y3, Y2, Y0)               // r
		VMULPD(Y0, Y0, Y4)               // t
		VMULPD(cst.Offset(0), Y4, Y5)
		for i := 1; i < 5; i++ {
			VADDPD(cst.Offset(32*i), Y5, Y5)
			VMULPD(Y4, Y5, Y5)
		}
		VSUBPD(Y5, Y0, Y5) // c
		VMULPD(Y5, Y0, Y0) // r·c
		VSUBPD(Y5, Y9, Y5) // 2 − c
		VDIVPD(Y5, Y0, Y0)
		VSUBPD(Y0, Y3, Y0)
		VSUBPD(Y2, Y0, Y0)
		VSUBPD(Y0, Y10, Y0) // y
		VADDPD(Y11, Y1, Y1)
		VPSLLQ(U8(52), Y1, Y1) // 2^k
		VMULPD(Y1, Y0, Y0)
		VANDNPD(Y0, Y6, Y0) // 0 below −708
		VSUBPD(Y14, Y0, Y0)
		VMOVUPD(Y0, M(RDI, 0))
		ADDQ(U8(32), RSI)
		ADDQ(U8(32), RDI)
		DECQ(RCX)
		JNZ(LabelRef(mode))
		JMP(LabelRef("kdone"))
	}
	Label("kdone")
	VZEROUPPER()
	RET()
}

// kernStrip512 writes kernStripAsm512: kernStripAsm with AVX-512, 8 lanes
// at a time, every constant in a register.
func kernStrip512() {
	TEXT("kernStripAsm512", NOSPLIT, "func(n int, d, v *float64, gamma, ck, cs float64, mode int)")
	Pragma("noescape")
	Doc("kernStripAsm512 is kernStripAsm with AVX-512, n a multiple of 8.",
		"Z0-Z6 temporaries; Z7 0, Z8 −708, Z9 2, Z10 1, Z11 2^52 + 1023,",
		"Z12 ck, Z13 g, Z14 cs, Z15 the sign bit, Z16-Z20 P5..P1, Z21 log2e,",
		"Z22 0.5, Z23 ln2Hi, Z24 ln2Lo; K1 the lanes x ≥ −708.")
	MOVQ(Arg("n"), RCX)
	MOVQ(Arg("d"), RSI)
	MOVQ(Arg("v"), RDI)
	MOVQ(Arg("mode"), R11)
	for _, c := range []struct {
		reg  int
		bits uint64
	}{{8, 0xc086200000000000}, {9, 0x4000000000000000}, {10, 0x3ff0000000000000}, {11, 0x43300000000003ff}, {15, 0x8000000000000000}} {
		MOVQ(U64(c.bits), RAX)
		MOVQ(RAX, X(c.reg))
		VBROADCASTSD(X(c.reg), Z(c.reg))
	}
	for i := range 9 {
		VBROADCASTSD(kernConst.Offset(32*i), Z(16+i))
	}
	VBROADCASTSD(Arg("ck"), Z12)
	VBROADCASTSD(Arg("gamma"), Z13)
	VBROADCASTSD(Arg("cs"), Z14)
	VPXORQ(Z7, Z7, Z7)
	SHRQ(U8(3), RCX)
	JZ(LabelRef("zkdone"))
	CMPQ(R11, U8(1))
	JEQ(LabelRef("zkone"))
	CMPQ(R11, U8(2))
	JEQ(LabelRef("zkhalf"))
	for _, mode := range []string{"zktwo", "zkone", "zkhalf"} {
		Label(mode)
		VMOVUPD(M(RSI, 0), Z0)
		VADDPD(Z12, Z0, Z0)
		VMAXPD(Z7, Z0, Z0) // max(0, a' + ck): never NaN or −0
		switch mode {
		case "zkone":
			VMULPD(Z0, Z0, Z0)
		case "zkhalf":
			VMULPD(Z0, Z0, Z0)
			VMULPD(Z0, Z0, Z0)
		}
		VMULPD(Z13, Z0, Z0)
		VPXORQ(Z15, Z0, Z0)       // x = −(g·d²)
		VCMPPD(U8(5), Z8, Z0, K1) // x ≥ −708 (not less than)
		VMULPD(Z21, Z0, Z1)
		VSUBPD(Z22, Z1, Z1)
		VRNDSCALEPD(U8(3), Z1, Z1) // truncate, as int(·)
		VADDPD(Z7, Z1, Z1)         // −0 to +0, as float64(int(·))
		VMULPD(Z23, Z1, Z2)
		VSUBPD(Z2, Z0, Z2)  // hi
		VMULPD(Z24, Z1, Z3) // lo
		VSUBPD(Z3, Z2, Z0)  // r
		VMULPD(Z0, Z0, Z4)  // t
		VMULPD(Z16, Z4, Z5)
		for i := 1; i < 5; i++ {
			VADDPD(Z(16+i), Z5, Z5)
			VMULPD(Z4, Z5, Z5)
		}
		VSUBPD(Z5, Z0, Z5) // c
		VMULPD(Z5, Z0, Z0) // r·c
		VSUBPD(Z5, Z9, Z5) // 2 − c
		VDIVPD(Z5, Z0, Z0)
		VSUBPD(Z0, Z3, Z0)
		VSUBPD(Z2, Z0, Z0)
		VSUBPD(Z0, Z10, Z0) // y
		VADDPD(Z11, Z1, Z1)
		VPSLLQ(U8(52), Z1, Z1) // 2^k
		VMULPD(Z1, Z0, Z0)
		VMOVAPD_Z(Z0, K1, Z0) // 0 below −708
		VSUBPD(Z14, Z0, Z0)
		VMOVUPD(Z0, M(RDI, 0))
		ADDQ(U8(64), RSI)
		ADDQ(U8(64), RDI)
		DECQ(RCX)
		JNZ(LabelRef(mode))
		JMP(LabelRef("zkdone"))
	}
	Label("zkdone")
	VZEROUPPER()
	RET()
}

// packStores returns the addresses dst + k·w·8 (k < n) of the pack
// kernels: DI the block's first coordinate, R14 = DI + 4·w·8, R9 = w·8,
// R13 = 3·w·8.
func packStores(n int) []Mem {
	m := []Mem{{Base: RDI}, MI(RDI, R9, 1), MI(RDI, R9, 2), MI(RDI, R13, 1),
		{Base: R14}, MI(R14, R9, 1), MI(R14, R9, 2), MI(R14, R13, 1)}
	return m[:n]
}

// packArgs loads the arguments of the pack kernels: DI dst, R9 w·8 (the
// bytes between two coordinates of dst), SI src, BX dim·8 (between two
// rows of src), CX the count of groups of g coordinates, AX mu, R13
// 3·w·8, R12 3·dim·8.
func packArgs(g int) {
	MOVQ(Arg("dst"), RDI)
	MOVQ(Arg("w"), R9)
	MOVQ(Arg("src"), RSI)
	MOVQ(Arg("dim"), RBX)
	MOVQ(Arg("dimg"), RCX)
	MOVQ(Arg("mu"), RAX)
	SHLQ(U8(3), R9)
	SHLQ(U8(3), RBX)
	LEAQ(MI(R9, R9, 2), R13)
	LEAQ(MI(RBX, RBX, 2), R12)
	if g == 8 {
		SHRQ(U8(3), RCX)
	} else {
		SHRQ(U8(2), RCX)
	}
}

func pack() {
	TEXT("packAsm", NOSPLIT, "func(dst *float64, w int, src *float64, dim, dimg int, mu, norms *float64)")
	Pragma("noescape")
	Doc("packAsm is pack with AVX2 for 4 whole rows: it packs the coordinates",
		"q < dimg (a multiple of 4, > 0) of the 4 rows of dim float64 at src,",
		"src+dim, …, centred by mu, into dst[q·w + r] (r < 4), and writes into",
		"norms[r] the sum of the squared centred coordinates of row r in q",
		"order, each square rounded before it is added: the order of pack.",
		"",
		"Per 4 coordinates: the rows in Y8-Y11 (centred), transposed as 4×4",
		"doubles through Y0-Y3 into Y4-Y7 (coordinate k of the 4 rows in Y(4+k)),",
		"stored at dst + k·w, and their squares (Y0-Y3) added to Y12 in k order.")
	packArgs(4)
	VXORPD(Y12, Y12, Y12)
	Label("ploop")
	rows := []Mem{{Base: RSI}, MI(RSI, RBX, 1), MI(RSI, RBX, 2), MI(RSI, R12, 1)}
	for r := range 4 {
		VMOVUPD(rows[r], Y(8+r))
		VSUBPD(Mem{Base: RAX}, Y(8+r), Y(8+r))
	}
	// Y0 = (r0q0 r1q0 r0q2 r1q2), Y1 = (r0q1 r1q1 r0q3 r1q3); Y2, Y3 the
	// same for rows 2 and 3.
	VUNPCKLPD(Y9, Y8, Y0)
	VUNPCKHPD(Y9, Y8, Y1)
	VUNPCKLPD(Y11, Y10, Y2)
	VUNPCKHPD(Y11, Y10, Y3)
	VPERM2F128(U8(0x20), Y2, Y0, Y4)
	VPERM2F128(U8(0x20), Y3, Y1, Y5)
	VPERM2F128(U8(0x31), Y2, Y0, Y6)
	VPERM2F128(U8(0x31), Y3, Y1, Y7)
	st := []Mem{{Base: RDI}, MI(RDI, R9, 1), MI(RDI, R9, 2), MI(RDI, R13, 1)}
	for k := range 4 {
		VMOVUPD(Y(4+k), st[k])
		VMULPD(Y(4+k), Y(4+k), Y(k))
	}
	for k := range 4 {
		VADDPD(Y(k), Y12, Y12)
	}
	ADDQ(U8(32), RSI)
	ADDQ(U8(32), RAX)
	LEAQ(MI(RDI, R9, 4), RDI)
	DECQ(RCX)
	JNZ(LabelRef("ploop"))
	MOVQ(Arg("norms"), RDI)
	VMOVUPD(Y12, Mem{Base: RDI})
	VZEROUPPER()
	RET()
}

func pack512() {
	TEXT("packAsm512", NOSPLIT, "func(dst *float64, w int, src *float64, dim, dimg int, mu, norms *float64)")
	Pragma("noescape")
	Doc("packAsm512 is packAsm with AVX-512 for 8 whole rows and dimg a",
		"multiple of 8: the same panel and norms, 8 coordinates at a time.",
		"",
		"Per 8 coordinates: the rows in Z16-Z23 (centred), transposed as 8×8",
		"doubles (pairs of rows interleaved into Z0-Z7, lanes of 128 bits",
		"shuffled into Z8-Z15, then into Z16-Z23: coordinate k of the 8 rows in",
		"Z(16+k)), stored at dst + k·w, and their squares (Z0-Z7) added to Z24 in",
		"k order.")
	packArgs(8)
	LEAQ(MI(RSI, RBX, 4), R8)
	VPXORQ(Z24, Z24, Z24)
	Label("zploop")
	LEAQ(MI(RDI, R9, 4), R14)
	rows := []Mem{{Base: RSI}, MI(RSI, RBX, 1), MI(RSI, RBX, 2), MI(RSI, R12, 1),
		{Base: R8}, MI(R8, RBX, 1), MI(R8, RBX, 2), MI(R8, R12, 1)}
	for r := range 8 {
		VMOVUPD(rows[r], Z(16+r))
		VSUBPD(Mem{Base: RAX}, Z(16+r), Z(16+r))
	}
	// Z(2h) = the even coordinates of rows 2h and 2h+1 interleaved,
	// Z(2h+1) the odd ones.
	for h := range 4 {
		VUNPCKLPD(Z(17+2*h), Z(16+2*h), Z(2*h))
		VUNPCKHPD(Z(17+2*h), Z(16+2*h), Z(2*h+1))
	}
	// Z8 = coordinates 0 and 4 of rows 0-3 (by pairs of rows), Z9 = 2 and
	// 6, Z10 = 1 and 5, Z11 = 3 and 7; Z12-Z15 the same for rows 4-7.
	for half := range 2 {
		t, u := 4*half, 8+4*half
		VSHUFF64X2(U8(0x88), Z(t+2), Z(t), Z(u))
		VSHUFF64X2(U8(0xDD), Z(t+2), Z(t), Z(u+1))
		VSHUFF64X2(U8(0x88), Z(t+3), Z(t+1), Z(u+2))
		VSHUFF64X2(U8(0xDD), Z(t+3), Z(t+1), Z(u+3))
	}
	// Z(16+k) = coordinate k of rows 0-7.
	for j, k := range []int{0, 2, 1, 3} {
		VSHUFF64X2(U8(0x88), Z(12+j), Z(8+j), Z(16+k))
		VSHUFF64X2(U8(0xDD), Z(12+j), Z(8+j), Z(20+k))
	}
	st := packStores(8)
	for k := range 8 {
		VMOVUPD(Z(16+k), st[k])
		VMULPD(Z(16+k), Z(16+k), Z(k))
	}
	for k := range 8 {
		VADDPD(Z(k), Z24, Z24)
	}
	ADDQ(U8(64), RSI)
	ADDQ(U8(64), R8)
	ADDQ(U8(64), RAX)
	LEAQ(MI(R14, R9, 4), RDI)
	DECQ(RCX)
	JNZ(LabelRef("zploop"))
	MOVQ(Arg("norms"), RDI)
	VMOVUPD(Z24, Mem{Base: RDI})
	VZEROUPPER()
	RET()
}
