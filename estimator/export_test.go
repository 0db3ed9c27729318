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
