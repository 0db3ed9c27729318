// Command fused32 writes block/fused32_amd64.s and its Go declarations,
// the float32 strip kernels of block/fused32.go for mr = 8, nr2 = 48
// (AVX-512 and AVX2 + FMA Gram micro-kernels in float32, the epilogues
// that convert their inner products to float64, and the AVX-512 packing
// of the float32 panels):
//
//	go run ./fused32 -out ../fused32_amd64.s -stubs ../fused32_stubs_amd64.go -pkg block
//
// Element (r, q) of a block of the packed float32 I panel is at 8·q + r
// floats, element (c, q) of the packed double strip at 48·q + c; the
// inner products are row-major with rows of 48 floats (192 bytes).
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
	gramStrip512()
	gramStrip()
	distStrip()
	distStrip512()
	pack512()
	pack()
	Generate()
}

func gramStrip512() {
	TEXT("gramStrip32Asm512", NOSPLIT, "func(dim, nb, nv int, a, b, gs *float32)")
	Pragma("noescape")
	Doc("gramStrip32Asm512 is kernels32.gramStrip with AVX-512: each 8×48",
		"block in 24 ZMM accumulators of 16 floats (Z0-Z23; row r in",
		"Z(3r)..Z(3r+2)), three ZMM for the strip row (Z24-Z26) and two for",
		"broadcast elements of the rows (Z27, Z28). For nv = 1 or 2 only the",
		"first 16·nv columns are computed and stored (the last double strip of a",
		"tile), in 8·nv accumulators.")
	MOVQ(Arg("dim"), RCX)
	MOVQ(Arg("nb"), RDX)
	MOVQ(Arg("nv"), RAX)
	MOVQ(Arg("a"), RSI)
	MOVQ(Arg("b"), RBX)
	MOVQ(Arg("gs"), RDI)
	CMPQ(RAX, U8(1))
	JEQ(LabelRef("zblock1"))
	CMPQ(RAX, U8(2))
	JEQ(LabelRef("zblock2"))
	for _, nv := range []int{3, 1, 2} {
		Label(fmt.Sprintf("zblock%d", nv))
		for r := range 8 {
			for v := range nv {
				VPXORD(Z(3*r+v), Z(3*r+v), Z(3*r+v))
			}
		}
		MOVQ(RBX, R8)
		MOVQ(RCX, R9)
		Label(fmt.Sprintf("zloop%d", nv))
		for v := range nv {
			VMOVUPS(M(R8, 64*v), Z(24+v))
		}
		for r := range 8 {
			z := Z(27 + r%2)
			VBROADCASTSS(M(RSI, r*4), z)
			for v := range nv {
				VFMADD231PS(Z(24+v), z, Z(3*r+v))
			}
		}
		ADDQ(U32(192), R8)
		ADDQ(U8(32), RSI)
		DECQ(R9)
		JNZ(LabelRef(fmt.Sprintf("zloop%d", nv)))
		for r := range 8 {
			for v := range nv {
				VMOVUPS(Z(3*r+v), M(RDI, r*192+v*64))
			}
		}
		ADDQ(U32(1536), RDI)
		DECQ(RDX)
		JNZ(LabelRef(fmt.Sprintf("zblock%d", nv)))
		VZEROUPPER()
		RET()
	}
}

func gramStrip() {
	TEXT("gramStrip32Asm", NOSPLIT, "func(dim, nb, nh int, a, b, gs *float32)")
	Pragma("noescape")
	Doc("gramStrip32Asm is kernels32.gramStrip with AVX2: each 8×48 block as",
		"four 4×24 blocks of 12 YMM accumulators of 8 floats (Y0-Y11; row r in",
		"Y(3r)..Y(3r+2)), three YMM for the strip row and one for a broadcast",
		"element of a row. For nh = 1 only the first 24 columns are computed and",
		"stored.")
	MOVQ(Arg("dim"), RCX)
	MOVQ(Arg("nb"), RDX)
	MOVQ(Arg("nh"), R11)
	MOVQ(Arg("a"), RSI)
	MOVQ(Arg("b"), RBX)
	MOVQ(Arg("gs"), RDI)
	Label("gblock")
	for rh := range 2 {
		for ch := range 2 {
			lab := fmt.Sprintf("g%d%d", rh, ch)
			if ch == 1 {
				CMPQ(R11, U8(1))
				JEQ(LabelRef(fmt.Sprintf("skip%d", rh)))
			}
			for r := range 12 {
				VXORPS(Y(r), Y(r), Y(r))
			}
			LEAQ(M(RSI, rh*16), R10)
			LEAQ(M(RBX, ch*96), R8)
			MOVQ(RCX, R9)
			Label(lab)
			VMOVUPS(M(R8, 0), Y12)
			VMOVUPS(M(R8, 32), Y13)
			VMOVUPS(M(R8, 64), Y14)
			for r := range 4 {
				VBROADCASTSS(M(R10, r*4), Y15)
				for v := range 3 {
					VFMADD231PS(Y(12+v), Y15, Y(3*r+v))
				}
			}
			ADDQ(U32(192), R8)
			ADDQ(U8(32), R10)
			DECQ(R9)
			JNZ(LabelRef(lab))
			for r := range 4 {
				for v := range 3 {
					VMOVUPS(Y(3*r+v), M(RDI, (rh*4+r)*192+ch*96+v*32))
				}
			}
		}
		Label(fmt.Sprintf("skip%d", rh))
	}
	MOVQ(RCX, R9)
	SHLQ(U8(5), R9)
	ADDQ(R9, RSI)
	ADDQ(U32(1536), RDI)
	DECQ(RDX)
	JNZ(LabelRef("gblock"))
	VZEROUPPER()
	RET()
}

type raise struct {
	label string
	emit  func(t, u Op)
}

// raises are the labels of the four raise modes (modeTwo, modeOne,
// modeHalf, modeThreeHalves) and the raise of d² in register t (with
// temporary u), as in raiseMode.
func raises(prefix string) []raise {
	return []raise{
		{prefix + "two", func(t, u Op) {}},
		{prefix + "one", func(t, u Op) { VSQRTPD(t, t) }},
		{prefix + "half", func(t, u Op) { VSQRTPD(t, t); VSQRTPD(t, t) }},
		{prefix + "three", func(t, u Op) { VSQRTPD(t, t); VSQRTPD(t, u); VMULPD(u, t, t) }},
	}
}

func modeSwitch(rs []raise) {
	for m := 1; m < 4; m++ {
		CMPQ(R11, U8(m))
		JEQ(LabelRef(rs[m].label))
	}
}

func distStrip() {
	TEXT("distStrip32Asm", NOSPLIT, "func(rows int, gs *float32, d, na, nb, jidx *float64, i0, c float64, mode int, flags *uint8) int")
	Pragma("noescape")
	Doc("distStrip32Asm is distStrip32Go with AVX2. Registers: Y0-Y5",
		"temporaries, X8 1.0, X9 the row index i, Y10 the refinement flags of",
		"the row, Y11 |x_i|², Y12 i, Y13 the shift c, Y14 zero, Y15",
		"refineTol32; DI the float32 inner products, R12 the float64 output, BX",
		"the column norms, DX jidx.")
	MOVQ(Arg("rows"), RCX)
	MOVQ(Arg("gs"), RDI)
	MOVQ(Arg("d"), R12)
	MOVQ(Arg("na"), RSI)
	MOVQ(Arg("nb"), RBX)
	MOVQ(Arg("jidx"), RDX)
	MOVSD(Arg("i0"), X9)
	VBROADCASTSD(Arg("c"), Y13)
	MOVQ(Arg("mode"), R11)
	MOVQ(Arg("flags"), R8)
	XORQ(R9, R9)
	MOVQ(U64(0x3f50624dd2f1a9fc), RAX)
	Comment("1e-3 = refineTol32")
	MOVQ(RAX, X15)
	VBROADCASTSD(X15, Y15)
	MOVQ(U64(0x3ff0000000000000), RAX)
	MOVQ(RAX, X8)
	VXORPD(Y14, Y14, Y14)
	rs := raises("e")
	modeSwitch(rs)
	for _, ra := range rs {
		Label(ra.label)
		VBROADCASTSD(Mem{Base: RSI}, Y11)
		VBROADCASTSD(X9, Y12)
		VXORPD(Y10, Y10, Y10)
		for v := range 6 {
			off := v * 32
			// Y1 = d² of 4 pairs clamped to [0, 2s], Y3 = mask of the
			// valid pairs (i < jidx); ORs into Y10 the valid pairs with
			// d² < refineTol32·s.
			VADDPD(M(RBX, off), Y11, Y0)
			VCVTPS2PD(M(RDI, v*16), Y1)
			VADDPD(Y1, Y1, Y1)
			VSUBPD(Y1, Y0, Y1)
			VADDPD(Y0, Y0, Y5)
			VMULPD(Y15, Y0, Y0)
			VCMPPD(U8(0x11), Y0, Y1, Y2)
			VCMPPD(U8(0x11), M(RDX, off), Y12, Y3)
			VANDPD(Y3, Y2, Y2)
			VORPD(Y2, Y10, Y10)
			VMAXPD(Y14, Y1, Y1)
			VMINPD(Y5, Y1, Y1)
			ra.emit(Y1, Y4)
			VSUBPD(Y13, Y1, Y1)
			VANDPD(Y3, Y1, Y1)
			VMOVUPD(Y1, M(R12, off))
		}
		VMOVMSKPD(Y10, EAX)
		XORL(R10L, R10L)
		TESTL(EAX, EAX)
		SETNE(R10B)
		MOVB(R10B, Mem{Base: R8})
		ADDQ(R10, R9)
		ADDQ(U32(192), RDI)
		ADDQ(U32(192), R12)
		ADDQ(U8(8), RSI)
		INCQ(R8)
		VADDSD(X8, X9, X9)
		DECQ(RCX)
		JNZ(LabelRef(ra.label))
		JMP(LabelRef("edone"))
	}
	Label("edone")
	MOVQ(R9, Ret(0))
	VZEROUPPER()
	RET()
}

func distStrip512() {
	TEXT("distStrip32Asm512", NOSPLIT, "func(rows int, gs *float32, d, na, nb, jidx *float64, i0, c float64, mode int, flags *uint8, rs, col, other *float64) (nflag int, sq, dot float64)")
	Pragma("noescape")
	Doc("distStrip32Asm512 is distStrip32Asm with AVX-512 (8 pairs per",
		"instruction), which also sums what it stores in the order of",
		"accStripGo: rs[r] = sum_c a'_rc, col[c] = sum_r a'_rc and sq = sum a'²;",
		"and, if other is not nil (another space's strip of as many rows), dot =",
		"sum other·a' in the order of dotStripGo (else 0).",
		"Registers: Z0-Z5 temporaries, X8 1.0, X9 the row index i, K4 the",
		"refinement flags of the row, K3 the valid pairs of a vector, Z11",
		"|x_i|², Z12 i, Z13 the shift c, Z14 zero, Z15 refineTol32, Z17-Z19",
		"jidx, Z20-Z22 the column norms, Y6 the sum of the row, Z23-Z25 the",
		"column sums, Z26 the sums of squares, Z27-Z29 the products with other;",
		"DI the float32 inner products, R12 the float64 output, R13 the row",
		"sums, R14 other.")
	MOVQ(Arg("rows"), RCX)
	MOVQ(Arg("gs"), RDI)
	MOVQ(Arg("d"), R12)
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
	MOVQ(U64(0x3f50624dd2f1a9fc), RAX)
	Comment("1e-3 = refineTol32")
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
			// Z1 = d² of 8 pairs clamped to [0, 2s], K3 = the valid pairs
			// (i < jidx); ORs into K4 the valid pairs with d² <
			// refineTol32·s. The same float64 operations as
			// distStrip32Go, so the same results.
			VADDPD(Z(20+v), Z11, Z0)
			VCVTPS2PD(M(RDI, v*32), Z1)
			VADDPD(Z1, Z1, Z1)
			VSUBPD(Z1, Z0, Z1)
			VCMPPD(U8(0x11), Z(17+v), Z12, K3)
			VMULPD(Z15, Z0, Z2)
			VCMPPD(U8(0x11), Z2, Z1, K3, K1)
			KORW(K1, K4, K4)
			VADDPD(Z0, Z0, Z5)
			VMAXPD(Z14, Z1, Z1)
			VMINPD(Z5, Z1, Z1)
			ra.emit(Z1, Z4)
			// Stores a' = Z1 - c on the valid pairs, 0 elsewhere, and
			// adds it to the sums.
			VSUBPD_Z(Z13, Z1, K3, Z1)
			VMOVUPD(Z1, M(R12, v*64))
			VADDPD(Z1, Z(23+v), Z(23+v))
			// The squares in 8 lanes, and the row in 4 lanes, in the
			// order of accStripGo: the row sum is the 6 vectors of 4
			// columns (the halves of the 3 ZMM) added in order.
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
		ADDQ(U32(192), R12)
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

func pack512() {
	TEXT("pack32Asm512", NOSPLIT, "func(dst *float32, w int, src *float64, dim, dim8 int, mu, norms *float64)")
	Pragma("noescape")
	Doc("pack32Asm512 packs the coordinates q < dim8 (a multiple of 8, > 0) of",
		"8 rows of dim float64 each, at src, src+dim, …, centred by mu, rounded",
		"to float32, into dst[q·w + r] (r < 8), and writes into norms[r] the sum",
		"of the squared centred coordinates of row r in the order of pack32Go:",
		"lane j of an accumulator sums the q = j mod 8 in q order (multiply, then",
		"add), then ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).",
		"",
		"Per 8 coordinates: the rows in Z16-Z23 (centred), their squares added to",
		"Z24-Z31, rounded into Y0-Y7, transposed as 8×8 floats through Y8-Y15",
		"and stored as 8 rows of 8 floats at dst + k·w (k < 8).")
	MOVQ(Arg("dst"), RDI)
	MOVQ(Arg("w"), R9)
	MOVQ(Arg("src"), RSI)
	MOVQ(Arg("dim"), RBX)
	MOVQ(Arg("dim8"), RCX)
	MOVQ(Arg("mu"), RAX)
	SHLQ(U8(2), R9)
	Comment("w·4: bytes between coordinates of dst")
	SHLQ(U8(3), RBX)
	Comment("dim·8: bytes between rows of src")
	LEAQ(MI(R9, R9, 2), R13)
	LEAQ(MI(RBX, RBX, 2), R12)
	LEAQ(MI(RSI, RBX, 4), R8)
	SHRQ(U8(3), RCX)
	for r := range 8 {
		VPXORQ(Z(24+r), Z(24+r), Z(24+r))
	}
	Label("pload")
	LEAQ(MI(RDI, R9, 4), R14)
	rowaddr := []Mem{{Base: RSI}, MI(RSI, RBX, 1), MI(RSI, RBX, 2), MI(RSI, R12, 1),
		{Base: R8}, MI(R8, RBX, 1), MI(R8, RBX, 2), MI(R8, R12, 1)}
	for r := range 8 {
		VMOVUPD(rowaddr[r], Z(16+r))
		VSUBPD(Mem{Base: RAX}, Z(16+r), Z(16+r))
		VMULPD(Z(16+r), Z(16+r), Z(r))
		VADDPD(Z(r), Z(24+r), Z(24+r))
		VCVTPD2PS(Z(16+r), Y(r))
	}
	// 8×8 transpose: Y(k) holds the 8 coordinates of row k; afterwards
	// Y(8+k) holds coordinate k of the 8 rows.
	for h := range 4 {
		a, b := 2*h, 2*h+1
		VUNPCKLPS(Y(b), Y(a), Y(8+a))
		VUNPCKHPS(Y(b), Y(a), Y(8+b))
	}
	for _, bd := range [][2]int{{8, 0}, {12, 4}} {
		base, dst := bd[0], bd[1]
		VSHUFPS(U8(0x44), Y(base+2), Y(base), Y(dst))
		VSHUFPS(U8(0xEE), Y(base+2), Y(base), Y(dst+1))
		VSHUFPS(U8(0x44), Y(base+3), Y(base+1), Y(dst+2))
		VSHUFPS(U8(0xEE), Y(base+3), Y(base+1), Y(dst+3))
	}
	// Y(k) holds coordinates k and k+4 of rows 0-3 (k < 4), Y(k+4) of rows 4-7.
	for k := range 4 {
		VPERM2F128(U8(0x20), Y(k+4), Y(k), Y(8+k))
		VPERM2F128(U8(0x31), Y(k+4), Y(k), Y(12+k))
	}
	dstaddr := []Mem{{Base: RDI}, MI(RDI, R9, 1), MI(RDI, R9, 2), MI(RDI, R13, 1),
		{Base: R14}, MI(R14, R9, 1), MI(R14, R9, 2), MI(R14, R13, 1)}
	for k := range 8 {
		VMOVUPS(Y(8+k), dstaddr[k])
	}
	ADDQ(U8(64), RSI)
	ADDQ(U8(64), R8)
	ADDQ(U8(64), RAX)
	LEAQ(MI(R14, R9, 4), RDI)
	DECQ(RCX)
	JNZ(LabelRef("pload"))
	MOVQ(Arg("norms"), RDI)
	for r := range 8 {
		VMOVAPD(Z(24+r), Z0)
		VEXTRACTF64X4(U8(1), Z0, Y1)
		VADDPD(Y1, Y0, Y0)
		VEXTRACTF128(U8(1), Y0, X1)
		VADDPD(X1, X0, X0)
		VPERMILPD(U8(1), X0, X1)
		VADDSD(X1, X0, X0)
		VMOVSD(X0, M(RDI, 8*r))
	}
	VZEROUPPER()
	RET()
}

func pack() {
	TEXT("pack32Asm", NOSPLIT, "func(dst *float32, w int, src *float64, dim, dim8 int, mu, norms *float64)")
	Pragma("noescape")
	Doc("pack32Asm is pack32Asm512 with AVX2 for 4 rows: it packs the",
		"coordinates q < dim8 (a multiple of 8, > 0) of 4 rows of dim float64",
		"each, at src, src+dim, …, centred by mu, rounded to float32, into",
		"dst[q·w + r] (r < 4), and writes into norms[r] the sum of the squared",
		"centred coordinates of row r in the order of pack32Go: lane j of two",
		"accumulators (q mod 8 = j and 4 + j) sums in q order (multiply, then",
		"add), then ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).",
		"",
		"Per 4 coordinates: each row centred in Y0, its squares added to",
		"Y(8+2r+h) (h = 0 for q mod 8 < 4, else 1), rounded into X4-X7,",
		"transposed as 4×4 floats through X0-X3 and stored as 4 rows of 4",
		"floats at dst + k·w.")
	MOVQ(Arg("dst"), RDI)
	MOVQ(Arg("w"), R9)
	MOVQ(Arg("src"), RSI)
	MOVQ(Arg("dim"), RBX)
	MOVQ(Arg("dim8"), RCX)
	MOVQ(Arg("mu"), RAX)
	SHLQ(U8(2), R9)
	Comment("w·4: bytes between coordinates of dst")
	SHLQ(U8(3), RBX)
	Comment("dim·8: bytes between rows of src")
	LEAQ(MI(R9, R9, 2), R13)
	LEAQ(MI(RBX, RBX, 2), R12)
	SHRQ(U8(3), RCX)
	for r := range 8 {
		VXORPD(Y(8+r), Y(8+r), Y(8+r))
	}
	Label("qload")
	LEAQ(MI(RDI, R9, 4), R14)
	rowaddr := []Mem{{Base: RSI}, MI(RSI, RBX, 1), MI(RSI, RBX, 2), MI(RSI, R12, 1)}
	dstaddr := []Mem{{Base: RDI}, MI(RDI, R9, 1), MI(RDI, R9, 2), MI(RDI, R13, 1),
		{Base: R14}, MI(R14, R9, 1), MI(R14, R9, 2), MI(R14, R13, 1)}
	for h := range 2 {
		for r := range 4 {
			VMOVUPD(rowaddr[r].Offset(32*h), Y0)
			VSUBPD(M(RAX, 32*h), Y0, Y0)
			VMULPD(Y0, Y0, Y1)
			VADDPD(Y1, Y(8+2*r+h), Y(8+2*r+h))
			VCVTPD2PSY(Y0, X(4+r))
		}
		// 4×4 transpose: X(4+r) holds coordinates k < 4 of row r;
		// afterwards X(4+k) holds coordinate k of the 4 rows.
		VUNPCKLPS(X5, X4, X0)
		VUNPCKHPS(X5, X4, X1)
		VUNPCKLPS(X7, X6, X2)
		VUNPCKHPS(X7, X6, X3)
		VSHUFPS(U8(0x44), X2, X0, X4)
		VSHUFPS(U8(0xEE), X2, X0, X5)
		VSHUFPS(U8(0x44), X3, X1, X6)
		VSHUFPS(U8(0xEE), X3, X1, X7)
		for k := range 4 {
			VMOVUPS(X(4+k), dstaddr[4*h+k])
		}
	}
	ADDQ(U8(64), RSI)
	ADDQ(U8(64), RAX)
	LEAQ(MI(R14, R9, 4), RDI)
	DECQ(RCX)
	JNZ(LabelRef("qload"))
	MOVQ(Arg("norms"), RDI)
	for r := range 4 {
		VADDPD(Y(9+2*r), Y(8+2*r), Y0)
		VEXTRACTF128(U8(1), Y0, X1)
		VADDPD(X1, X0, X0)
		VPERMILPD(U8(1), X0, X1)
		VADDSD(X1, X0, X0)
		VMOVSD(X0, M(RDI, 8*r))
	}
	VZEROUPPER()
	RET()
}
