package estimator

// RowsHeld reports whether s holds any row sum in memory: a state whose
// row sums are all zero keeps none, whatever its n (see bank).
func RowsHeld(s *Stats) bool {
	for k := range s.rows {
		if s.rows[k].w != 0 {
			return true
		}
	}
	return false
}

// TermEvaluations returns the number of values the cache of s's shared
// terms (V²_kk, U_kk, U_kz) has evaluated since its sums last changed.
func TermEvaluations(s *Stats) int {
	if s.terms == nil || s.terms.ev != s.ev {
		return 0
	}
	return s.terms.evals
}

// LinearSelfTerms returns the number of self terms HSIC_kk l holds.
func LinearSelfTerms(l *Linear) int { return len(l.self) }
