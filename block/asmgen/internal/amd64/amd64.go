// Package amd64 holds what the avo generators of block/asmgen share:
// registers by number, memory operands and the horizontal sums.
package amd64

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

var (
	xs = []VecPhysical{X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15}
	ys = []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}
	zs = []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}
)

// X, Y and Z return the vector register of number i.
func X(i int) VecPhysical { return xs[i] }
func Y(i int) VecPhysical { return ys[i] }
func Z(i int) VecPhysical { return zs[i] }

// M returns the memory operand disp(base).
func M(base Register, disp int) operand.Mem { return operand.Mem{Base: base, Disp: disp} }

// MI returns the memory operand (base)(index*scale).
func MI(base, index Register, scale uint8) operand.Mem {
	return operand.Mem{Base: base, Index: index, Scale: scale}
}

// Arg returns the address of the argument name of the current function
// (name+offset(FP)).
func Arg(name string) operand.Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(fmt.Sprintf("asmgen: argument %s: %v", name, err))
	}
	return b.Addr
}

// Ret returns the address of the result i of the current function.
func Ret(i int) operand.Mem {
	b, err := ReturnIndex(i).Resolve()
	if err != nil {
		panic(fmt.Sprintf("asmgen: result %d: %v", i, err))
	}
	return b.Addr
}

// HSum4 sums the 4 lanes of Y(y) into the low lane of X(y), as
// (l0 + l2) + (l1 + l3), with X(tmp) as a temporary.
func HSum4(y, tmp int) {
	VEXTRACTF128(operand.U8(1), Y(y), X(tmp))
	VADDPD(X(tmp), X(y), X(y))
	VPERMILPD(operand.U8(1), X(y), X(tmp))
	VADDSD(X(tmp), X(y), X(y))
}

// Zero sets each vector register to zero with VXORPD.
func ZeroY(regs ...int) {
	for _, r := range regs {
		VXORPD(Y(r), Y(r), Y(r))
	}
}
