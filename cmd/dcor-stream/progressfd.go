package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dcor-stream/dcor-stream/job"
)

// addProgressFD chains progressLines to descriptor fd onto spec.Progress:
// 0 none, 2 standard error (the one choice on Windows), else an inherited
// descriptor from 3 on (standard output holds the results).
func addProgressFD(spec *job.Spec, fd int) error {
	var f *os.File // nil for fd 1 and below 0: its Stat fails
	switch {
	case fd == 0:
		return nil
	case fd == 2:
		f = os.Stderr
	case fd > 2:
		f = os.NewFile(uintptr(fd), "progress-fd")
	}
	if _, err := f.Stat(); err != nil {
		return usagef("-progress-fd %d: want 2 (standard error) or an open inherited descriptor from 3 on", fd)
	}
	spec.Progress = progressLines(f, spec.Progress)
	return nil
}

// progressLines returns a Progress calling prev (if not nil), then writing
// -progress-fd for programs to w, a JSON line an update:
//
//	{"pass":1,"done":3,"total":10,"pairs":1250000,"total_pairs":5000500}
//
// done of total tiles of this pass (of the shard with -shard); pass counts
// the passes over the tiles from 1 (the statistics, the jackknife of -ci,
// the permutations). It writes the first and last update of each pass and
// at most one per 100 ms between; write errors are ignored (a reader gone
// away must not stop the run).
func progressLines(w io.Writer, prev func(job.Progress)) func(job.Progress) {
	pass, tiles, last := 0, 0, time.Time{} // tiles: done at the previous update
	return func(jp job.Progress) {
		if prev != nil {
			prev(jp)
		}
		now := time.Now()
		if pass == 0 || jp.Tiles < tiles {
			pass++
		} else if jp.Tiles < jp.TotalTiles && now.Sub(last) < 100*time.Millisecond {
			tiles = jp.Tiles
			return
		}
		tiles, last = jp.Tiles, now
		fmt.Fprintf(w, "{\"pass\":%d,\"done\":%d,\"total\":%d,\"pairs\":%d,\"total_pairs\":%d}\n", pass, jp.Tiles, jp.TotalTiles, jp.Pairs, jp.TotalPairs)
	}
}
