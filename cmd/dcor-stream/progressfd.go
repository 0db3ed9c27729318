package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dcor-stream/dcor-stream/job"
)

// progressStream writes -progress-fd for programs, a JSON line an update:
//
//	{"pass":1,"done":3,"total":10,"pairs":1250000,"total_pairs":5000500}
//
// done of total tiles of this pass (of the shard with -shard); pass counts
// the passes over the tiles from 1 (the statistics, the jackknife of -ci,
// the permutations). It writes the first and last update of each pass and
// at most one per 100 ms between; write errors are ignored (a reader gone
// away must not stop the run).
type progressStream struct {
	w           io.Writer
	pass, tiles int // tiles: done at the previous update
	last        time.Time
}

func (s *progressStream) update(jp job.Progress) {
	now := time.Now()
	if s.pass == 0 || jp.Tiles < s.tiles {
		s.pass++
	} else if jp.Tiles < jp.TotalTiles && now.Sub(s.last) < 100*time.Millisecond {
		s.tiles = jp.Tiles
		return
	}
	s.tiles, s.last = jp.Tiles, now
	fmt.Fprintf(s.w, "{\"pass\":%d,\"done\":%d,\"total\":%d,\"pairs\":%d,\"total_pairs\":%d}\n", s.pass, jp.Tiles, jp.TotalTiles, jp.Pairs, jp.TotalPairs)
}

// addProgressFD chains the stream to descriptor fd onto spec.Progress: 0
// none, 2 standard error (the one choice on Windows), else an inherited
// descriptor (standard output holds the results).
func addProgressFD(spec *job.Spec, fd int) error {
	f := os.Stderr
	if fd == 0 {
		return nil
	} else if fd != 2 {
		f = os.NewFile(uintptr(fd), "progress-fd")
	}
	if _, err := f.Stat(); fd < 0 || fd == 1 || err != nil {
		return usagef("-progress-fd %d: want 2 (standard error) or an open inherited descriptor from 3 on", fd)
	}
	s, prev := &progressStream{w: f}, spec.Progress
	spec.Progress = func(jp job.Progress) {
		if prev != nil {
			prev(jp)
		}
		s.update(jp)
	}
	return nil
}
