package estimator

import (
	"math"
	"math/big"
	"math/bits"
)

// int128 is a two's complement 128-bit integer: hi·2^64 + lo.
type int128 struct {
	hi int64
	lo uint64
}

func (a int128) add(b int128) int128 {
	lo, carry := bits.Add64(a.lo, b.lo, 0)
	return int128{hi: a.hi + b.hi + int64(carry), lo: lo}
}

// toInt128 rounds x to the nearest integer (ties to even) and returns it.
// It panics if |x| >= 2^sBits: the value exceeds what the bounds allow.
func toInt128(x float64) int128 {
	u := math.RoundToEven(x)
	if !(math.Abs(u) < 1<<sBits) {
		panic("estimator: product sum exceeds the bound")
	}
	neg := u < 0
	u = math.Abs(u)
	// u < 2^125 is an integer with at most 53 significant bits, so both
	// parts below are exact.
	hi := math.Floor(math.Ldexp(u, -64))
	lo := u - math.Ldexp(hi, 64)
	v := int128{hi: int64(hi), lo: uint64(lo)}
	if neg {
		v = v.neg()
	}
	return v
}

func (a int128) neg() int128 {
	lo, borrow := bits.Sub64(0, a.lo, 0)
	return int128{hi: -a.hi - int64(borrow), lo: lo}
}

// float returns a·q rounded to the nearest float64.
func (a int128) float(q float64) float64 {
	v := new(big.Int).SetInt64(a.hi)
	v.Lsh(v, 64)
	v.Add(v, new(big.Int).SetUint64(a.lo))
	f := new(big.Float).SetPrec(200).SetInt(v)
	f.Mul(f, big.NewFloat(q))
	r, _ := f.Float64()
	return r
}

// shiftRound returns a/2^sh rounded to the nearest integer, ties to even.
func (a int128) shiftRound(sh uint) int128 {
	v := new(big.Int).SetInt64(a.hi)
	v.Lsh(v, 64)
	v.Add(v, new(big.Int).SetUint64(a.lo))
	d := new(big.Int).Lsh(big.NewInt(1), sh)
	q, r := new(big.Int).DivMod(v, d, new(big.Int)) // floor division: 0 <= r < d
	switch c := new(big.Int).Lsh(r, 1).Cmp(d); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		q.Add(q, big.NewInt(1))
	}
	lo := new(big.Int).And(q, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	hi := new(big.Int).Rsh(q, 64).Int64()
	return int128{hi: hi, lo: lo}
}
