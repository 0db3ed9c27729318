//go:build !(amd64 || arm64) || purego

package block

// asmKernels reports that no assembly kernels are built in.
func asmKernels() (kernels, bool) { return kernels{}, false }
