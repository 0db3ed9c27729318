//go:build !linux

package peak

// ThreadCPU reports that this system gives no per-thread CPU time.
func ThreadCPU() (float64, bool) { return 0, false }
