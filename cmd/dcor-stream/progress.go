package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dcor-stream/dcor-stream/estimator"
	"github.com/dcor-stream/dcor-stream/job"
)

// progress reports a run's tiles on stderr: a bar redrawn in place when
// stderr is a terminal, or, when it is not (a log file, a pipe) and the
// user asked for it with -progress, a plain line every interval.
type progress struct {
	w        io.Writer
	terminal bool
	every    time.Duration // between updates
	pairs    float64       // pairs of the whole range
	unit     string        // what update counts: "tiles", or "pairs" under -mem
	base     int           // what was done before this process (resumed from a checkpoint)
	start    time.Time
	last     time.Time
	drawn    bool
	now      func() time.Time // time.Now, replaced in tests
}

// newProgress returns nil when nothing is to be shown: -quiet, or stderr
// not a terminal and -progress not given.
func newProgress(w io.Writer, quiet, asked bool, pairs float64) *progress {
	term := isTerminal(w)
	if quiet || !term && !asked {
		return nil
	}
	every := 10 * time.Second
	if term {
		every = 200 * time.Millisecond
	}
	return &progress{w: w, terminal: term, every: every, pairs: pairs, unit: "tiles", now: time.Now}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// update is a block.Schedule.Progress: it never fails.
func (p *progress) update(_ *estimator.Stats, done, total int) error {
	now := p.now()
	if p.start.IsZero() {
		p.start, p.last = now, now
	}
	if done < total && now.Sub(p.last) < p.every {
		return nil
	}
	p.last = now
	frac := float64(done) / float64(max(total, 1))
	ran := float64(done-p.base) / float64(max(total, 1)) // by this process
	elapsed := now.Sub(p.start)
	rate, eta := 0.0, "?"
	if s := elapsed.Seconds(); s > 0 {
		rate = ran * p.pairs / s
		if ran > 0 {
			eta = time.Duration(float64(elapsed) * (1 - frac) / ran).Round(time.Second).String()
		}
	}
	if p.terminal {
		const width = 30
		fill := int(frac * width)
		bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
		fmt.Fprintf(p.w, "\r[%s] %5.1f%%  %s  %.3g pairs/s  ETA %s ", bar, 100*frac, p.count(done, total, "/"), rate, eta)
		p.drawn = true
		if done == total {
			p.finish()
		}
		return nil
	}
	fmt.Fprintf(p.w, "dcor-stream: %.1f%% (%s), %.3g pairs/s, elapsed %s, ETA %s\n",
		100*frac, p.count(done, total, " of "), rate, elapsed.Round(time.Second), eta)
	return nil
}

// count says how much of the work is done: "3 of 10 tiles", or in pairs
// (too many to count one by one) "1.235e+09 of 5e+11 pairs".
func (p *progress) count(done, total int, of string) string {
	if p.unit == "pairs" {
		return fmt.Sprintf("%.4g%s%.4g pairs", float64(done), of, float64(total))
	}
	return fmt.Sprintf("%d%s%d %s", done, of, total, p.unit)
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p != nil && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// job is a job.Spec.Progress: it counts tiles, or pairs (unit "pairs").
func (p *progress) job(jp job.Progress) {
	p.pairs = float64(jp.TotalPairs)
	if p.unit == "pairs" {
		p.base = int(jp.ResumedPairs)
		p.update(nil, int(jp.Pairs), int(jp.TotalPairs))
		return
	}
	p.base = jp.ResumedTiles
	p.update(nil, jp.Tiles, jp.TotalTiles)
}
