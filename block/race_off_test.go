//go:build !race

package block

const raceOn = false
