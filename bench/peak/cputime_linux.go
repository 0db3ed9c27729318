package peak

import "syscall"

// ThreadCPU returns the CPU time (user + system, in seconds) of the
// calling OS thread, and whether the system reports it (Linux:
// getrusage(RUSAGE_THREAD)). The caller locks its goroutine to the
// thread (runtime.LockOSThread) for the difference of two readings to
// mean anything.
func ThreadCPU() (float64, bool) {
	const rusageThread = 1 // RUSAGE_THREAD, linux/resource.h
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, true
}
