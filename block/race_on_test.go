//go:build race

package block

// raceOn: the race detector slows the Go parts of the kernels about 50
// times; the heaviest tests then cover fewer cases.
const raceOn = true
