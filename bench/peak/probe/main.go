// Command probe prints the FMA peak of this machine (see package peak):
// for each FMA loop the CPU runs, GFLOP/s on one core and on all cores.
//
//	go run ./bench/peak/probe [-d 200ms] [-cores N] [-kind avx512/float64]
//
// A table: one line per loop, with one-core and all-core GFLOP/s; with
// -kind, only the GFLOP/s of that loop on -cores cores (for scripts).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/dcor-stream/dcor-stream/bench/peak"
)

func main() {
	d := flag.Duration("d", 200*time.Millisecond, "duration of each round")
	cores := flag.Int("cores", runtime.GOMAXPROCS(0), "goroutines of the all-core measure")
	kind := flag.String("kind", "", "print only the GFLOP/s of this loop on -cores cores")
	flag.Parse()
	if *kind != "" {
		k, ok := peak.Lookup(*kind)
		if !ok {
			fmt.Fprintf(os.Stderr, "probe: no loop %q on this CPU or build\n", *kind)
			os.Exit(1)
		}
		fmt.Printf("%.2f\n", peak.Measure(k, *cores, *d))
		return
	}
	ks := peak.Kinds()
	if len(ks) == 0 {
		fmt.Fprintln(os.Stderr, "probe: no FMA loop for this CPU or build")
		os.Exit(1)
	}
	fmt.Printf("# %s, GOMAXPROCS %d\n", peak.CPU(), runtime.GOMAXPROCS(0))
	fmt.Printf("%-16s %12s %12s %6s\n", "kind", "1 core", "all cores", "cores")
	for _, k := range ks {
		one := peak.Measure(k, 1, *d)
		all := peak.Measure(k, *cores, *d)
		fmt.Printf("%-16s %12.1f %12.1f %6d\n", k.Name, one, all, *cores)
	}
}
