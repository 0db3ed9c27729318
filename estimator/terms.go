package estimator

// terms caches the rounded statistics that many results of one state
// share: V²_kk and U_kk of each space with itself, which every pair of
// space k with another needs, and U_kz of each space with the given space
// z of the partial statistics. Each is an exact evaluation of big numbers
// (vNum, uNum); without the cache a matrix of K spaces evaluated the self
// terms for each of its K² entries, O(K²) big-number evaluations where K
// suffice (K = 1,000 at n = 30 spent a minute there). A cached value is
// the value evaluated afresh, to the bit: the same function of the same
// exact sums.
//
// The cache belongs to one evaluation of the state (Stats.eval): a change
// of the sums (AddTile, Merge, Grow) drops the evaluation and with it the
// cache.
type terms struct {
	ev    *evaluation
	v, u  map[int]float64 // by PairIndex
	evals int             // the values evaluated (not found): for tests
}

// cache returns the cache of the current evaluation of s.
func (s *Stats) cache() *terms {
	ev := s.eval()
	if s.terms == nil || s.terms.ev != ev {
		s.terms = &terms{ev: ev, v: make(map[int]float64), u: make(map[int]float64)}
	}
	return s.terms
}

// v2Of returns s.v2(k, l), evaluated once per state.
func (s *Stats) v2Of(k, l int) float64 {
	c := s.cache()
	p := PairIndex(s.k, k, l)
	v, ok := c.v[p]
	if !ok {
		v = s.v2(k, l)
		c.v[p] = v
		c.evals++
	}
	return v
}

// uOf returns s.u(k, l), evaluated once per state.
func (s *Stats) uOf(k, l int) float64 {
	c := s.cache()
	p := PairIndex(s.k, k, l)
	v, ok := c.u[p]
	if !ok {
		v = s.u(k, l)
		c.u[p] = v
		c.evals++
	}
	return v
}
