package estimator

import "math"

// dd is a double-double number hi + lo (Dekker 1971; Hida, Li & Bailey's
// QD library), about 106 bits: enough for the leave-one-out sums, whose
// differences from the whole-sample sums are of relative size 1/n.
type dd struct{ hi, lo float64 }

func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	return s, (a - (s - bb)) + (b - bb)
}

func quickTwoSum(a, b float64) dd {
	s := a + b
	return dd{s, b - (s - a)}
}

// prod returns a·b exactly.
func prod(a, b float64) dd {
	p := a * b
	return dd{p, math.FMA(a, b, -p)}
}

func (x dd) neg() dd { return dd{-x.hi, -x.lo} }

// add returns x + y.
func (x dd) add(y dd) dd {
	s, e := twoSum(x.hi, y.hi)
	t, f := twoSum(x.lo, y.lo)
	e += t
	r := quickTwoSum(s, e)
	return quickTwoSum(r.hi, r.lo+f)
}

// addF returns x + b.
func (x dd) addF(b float64) dd {
	s, e := twoSum(x.hi, b)
	return quickTwoSum(s, e+x.lo)
}

// mulF returns x·b.
func (x dd) mulF(b float64) dd {
	p := prod(x.hi, b)
	return quickTwoSum(p.hi, p.lo+float64(x.lo*b))
}

// mul returns x·y.
func (x dd) mul(y dd) dd {
	p := prod(x.hi, y.hi)
	return quickTwoSum(p.hi, p.lo+(float64(x.hi*y.lo)+float64(x.lo*y.hi)))
}

// div returns x/y rounded to float64.
func (x dd) div(y dd) float64 {
	q := x.hi / y.hi
	// One Newton correction: r = x − q·y in double-double.
	r := x.add(y.mulF(q).neg())
	return q + r.hi/y.hi
}
