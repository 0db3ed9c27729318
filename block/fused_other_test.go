//go:build !(amd64 || arm64) || purego

package block

// kernelSets returns every strip-kernel set of this build: pure Go only.
func kernelSets() []kernels { return []kernels{goKernels()} }
