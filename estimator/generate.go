package estimator

// The assembly kernel of the linear CKA sums and its Go declaration are
// written by an avo program of block/asmgen. Run go generate
// ./estimator/... after changing it; .ci/run checks that the committed
// files are what it writes.

//go:generate go run -C ../block/asmgen ./outer -out ../../estimator/outer_amd64.s -stubs ../../estimator/outer_stubs_amd64.go -pkg estimator
