//go:build !purego

package block

// kernelSets returns every strip-kernel set of this build: pure Go and
// NEON.
func kernelSets() []kernels {
	k, _ := asmKernels()
	return []kernels{goKernels(), k}
}
