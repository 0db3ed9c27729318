package block

// The assembly kernels and their Go declarations are written by the
// programs of asmgen/ (a module of its own, so that importers of this
// module do not depend on avo): avo's for amd64, and neon, which prints
// the arm64 assembly itself. Run go generate ./block/... after
// changing them; .ci/run checks that the committed files are what they
// write.

//go:generate go run -C asmgen ./fused -out ../fused_amd64.s -stubs ../fused_stubs_amd64.go -pkg block
//go:generate go run -C asmgen ./fused32 -out ../fused32_amd64.s -stubs ../fused32_stubs_amd64.go -pkg block
//go:generate go run -C asmgen ./rows -out ../rows_amd64.s -stubs ../rows_stubs_amd64.go -pkg block
//go:generate go run -C asmgen ./neon -out ../fused_arm64.s -stubs ../fused_stubs_arm64.go -pkg block
