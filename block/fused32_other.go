//go:build !(amd64 || arm64) || purego

package block

// asmKernels32 reports that no float32 assembly kernels are built in.
func asmKernels32() (kernels32, bool) { return kernels32{}, false }

// kernelSets32 returns every float32 strip-kernel set of this build: pure
// Go only.
func kernelSets32() []kernels32 { return []kernels32{goKernels32()} }
