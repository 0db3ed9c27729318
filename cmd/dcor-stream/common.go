package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// usageError is an error in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// computeFlags are the flags of the computation and its schedule, shared
// by the pair and the matrix modes.
type computeFlags struct {
	exponent    float64
	workers     int
	tile        int
	dropInvalid bool
	precision   string
	prec        block.Precision // parsed from precision by check
	quiet       bool            // -quiet
	progress    bool            // -progress
	progressFD  int             // -progress-fd

	shard           string        // "I/N", with state
	state           string        // where -shard writes its state
	checkpoint      string        // checkpoint file, resumed from if present
	checkpointEvery time.Duration // how often the checkpoint is written

	shardIndex, shardCount int // parsed from shard

	memText string // -mem as given
	mem     int64  // -mem in bytes; 0: in memory
	tmpdir  string // where standard input is spilled under -mem

	estimator    string        // -estimator
	block        int           // -block
	budget       time.Duration // -budget
	ci           bool          // -ci
	ciLevel      float64       // -ci-level
	from         string        // -from: the merged first round of -ci on shards
	permutations int           // -permutations
	seed         uint64        // -seed
	cka          bool          // -cka
	rbfSigma     float64       // -rbf-sigma: σ of every space, 0 for the median heuristic
	rbfSigmaXY   [2]float64    // -rbf-sigma-x, -rbf-sigma-y (registered by the pair mode)
	normalize    bool          // -normalize-rows
	key          string        // -key
	keyMissing   string        // -key-missing
	aligned      bool          // -aligned
	minibatch    int           // -minibatch
	shuffle      *uint64       // -shuffle; nil: the rows in order

	afterPass func(pass int) // tests: called after each pass of -mem
}

func (c *computeFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&c.exponent, "exponent", 1, "exponent α in (0, 2] on the Euclidean distances")
	fs.IntVar(&c.workers, "workers", runtime.GOMAXPROCS(0), "number of tile workers")
	fs.IntVar(&c.tile, "tile", 0, "tile size in rows (0: the default)")
	fs.BoolVar(&c.dropInvalid, "drop-invalid", false, "drop rows with a null, NaN or Inf in any space (jointly) instead of failing")
	fs.StringVar(&c.precision, "precision", "float64", "inner products of spaces of 16 or more columns: float64 (the reference) or float32 (faster; norms, distances and every sum stay float64; bcdcor within 1e-7)")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress on stderr")
	fs.BoolVar(&c.progress, "progress", false, "report progress on stderr even when it is not a terminal (a line every 10 s); on a terminal a bar is shown anyway")
	fs.IntVar(&c.progressFD, "progress-fd", 0, "also write progress as JSON lines {\"pass\",\"done\",\"total\",\"pairs\",\"total_pairs\"} to file descriptor `FD` (2: standard error), for programs")
	fs.StringVar(&c.shard, "shard", "", "compute only shard `I/N` of the tile grid (0 <= I < N) and write its state to -state; combine with 'dcor-stream merge'")
	fs.StringVar(&c.state, "state", "", "`FILE` the state of a -shard run is written to")
	fs.StringVar(&c.checkpoint, "checkpoint", "", "write the state to `FILE` as the run goes (and on SIGTERM or SIGINT), and resume from it if it exists; removed when the run ends")
	fs.DurationVar(&c.checkpointEvery, "checkpoint-every", time.Minute, "how often -checkpoint is written")
	fs.StringVar(&c.memText, "mem", "", "memory budget `SIZE` (64MiB, 8GiB, 512MB, bytes): hold a panel of rows that fits, stream the rest past it, one pass per panel (default: load the data in memory)")
	fs.StringVar(&c.tmpdir, "tmpdir", "", "`DIR` where standard input is spilled for the passes of -mem (default: the system's)")
	fs.StringVar(&c.estimator, "estimator", "auto", "auto (exact: O(n log n) for univariate spaces at α = 1 and n > 10,000, else tiles), tiles, univariate, or blocks (an estimate with its SE, one pass in blocks of -block rows)")
	fs.IntVar(&c.block, "block", 4000, "rows `B` per block of -estimator blocks")
	fs.DurationVar(&c.budget, "budget", 0, "choose the estimator by time: the exact run if its time, predicted from a calibration on this machine, fits `DURATION` (e.g. 10s, 5m; reading the input not counted), else -estimator blocks with the largest -block that fits; loads the input in memory")
	fs.BoolVar(&c.ci, "ci", false, "delete-one jackknife standard errors and normal intervals (one more pass over the tiles; with -shard, in two rounds: see -from)")
	fs.Float64Var(&c.ciLevel, "ci-level", 0.95, "confidence `LEVEL` of the -ci intervals")
	fs.StringVar(&c.from, "from", "", "with -ci or -permutations and -shard: the complete state `FILE` of the first round ('dcor-stream merge -state FILE' of its shards); the run computes its shard's part of their passes")
	fs.IntVar(&c.permutations, "permutations", 0, "`R` permutations for the permutation test of independence (and of pdcov given Z; in the matrix, of every entry); each costs about 0.6–0.7 of an exact run (about 1.35 with Z); with -shard, in two rounds as -ci")
	fs.Uint64Var(&c.seed, "seed", 1, "`SEED` of the -permutations")
	fs.BoolVar(&c.normalize, "normalize-rows", false, "scale every sample's vector to unit L2 norm, per space, before distances (as the seed paper's training loss, Distance_Correlation, does; its heatmap and partial scripts do not)")
	fs.BoolVar(&c.cka, "cka", false, "add debiased CKA and unbiased HSIC: linear (feature space, O(n·p·q)) and with the Gaussian kernel (in the tiles of dCor; exponents 0.5, 1, 2, float64)")
	fs.Float64Var(&c.rbfSigma, "rbf-sigma", 0, "bandwidth `σ` of the Gaussian kernel of -cka, in the units of the data, for every space (default: the median distance of the first 500 rows of each space)")
	fs.StringVar(&c.key, "key", "", "align the files by the sample IDs of `COLUMN` (integers or strings) instead of row order; a .npy file's IDs are the .npy beside it named COLUMN or ids, with its prefix (PREFIX.ids.npy, as examples/pytorch writes)")
	fs.StringVar(&c.keyMissing, "key-missing", "error", "`MODE` for the IDs not in every file (with -key): error, or drop (keep the IDs in every file, and say how many rows were dropped)")
	fs.BoolVar(&c.aligned, "aligned", false, "without -key: take the rows of the files as aligned as they are, even where the sample IDs beside .npy inputs (PREFIX.ids.npy) are in different orders (else an error)")
	fs.IntVar(&c.minibatch, "minibatch", 0, "mean over batches of `B` samples instead of the exact statistic (a different, biased estimator: the seed paper's minibatch numbers)")
	fs.Func("shuffle", "with -minibatch or -estimator blocks: batches or blocks of the rows in the random order drawn from `SEED` (as a shuffling data loader), not consecutive rows; loads the input in memory; not for standard input with blocks", func(v string) error {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want a non-negative integer seed")
		}
		c.shuffle = &seed
		return nil
	})
}

func (c *computeFlags) check() error {
	p, err := block.ParsePrecision(c.precision)
	if err != nil {
		return usagef("-precision %q: want float64 or float32", c.precision)
	}
	c.prec = p
	switch {
	case !(c.exponent > 0 && c.exponent <= 2):
		return usagef("-exponent %v is outside (0, 2]", c.exponent)
	case c.workers < 1:
		return usagef("-workers %d: need at least 1", c.workers)
	case c.tile < 0:
		return usagef("-tile %d is negative", c.tile)
	case (c.shard == "") != (c.state == ""):
		return usagef("-shard and -state go together")
	case c.checkpointEvery < 0:
		return usagef("-checkpoint-every %v is negative", c.checkpointEvery)
	case c.state != "" && c.state == c.checkpoint:
		return usagef("-state and -checkpoint name the same file")
	case c.estimator != "auto" && c.estimator != "tiles" && c.estimator != "univariate" && c.estimator != "blocks":
		return usagef("-estimator %q: want auto, tiles, univariate or blocks", c.estimator)
	case c.estimator == "blocks" && c.block < 4:
		return usagef("-block %d: need at least 4 rows", c.block)
	case c.shuffle != nil && c.estimator != "blocks" && c.minibatch == 0:
		return usagef("-shuffle orders the rows of -estimator blocks or -minibatch B: give one of them")
	case c.budget < 0:
		return usagef("-budget %v is negative", c.budget)
	case c.budget > 0 && (c.estimator != "auto" || c.ci || c.permutations > 0 || c.cka || c.mem > 0 || c.shard != "" || c.checkpoint != "" || c.minibatch > 0):
		return usagef("-budget chooses the estimator itself, in memory, for the whole job: it takes no -estimator, -ci, -permutations, -cka, -mem, -shard, -checkpoint or -minibatch")
	case !(c.ciLevel > 0 && c.ciLevel < 1):
		return usagef("-ci-level %v is outside (0, 1)", c.ciLevel)
	case c.permutations < 0:
		return usagef("-permutations %d is negative", c.permutations)
	case !(c.rbfSigma >= 0 && c.rbfSigma <= math.MaxFloat64) || !(c.rbfSigmaXY[0] >= 0 && c.rbfSigmaXY[0] <= math.MaxFloat64) || !(c.rbfSigmaXY[1] >= 0 && c.rbfSigmaXY[1] <= math.MaxFloat64):
		return usagef("-rbf-sigma %v, -rbf-sigma-x %v, -rbf-sigma-y %v: want positive numbers", c.rbfSigma, c.rbfSigmaXY[0], c.rbfSigmaXY[1])
	case (c.rbfSigma > 0 || c.rbfSigmaXY != [2]float64{}) && !c.cka:
		return usagef("-rbf-sigma, -rbf-sigma-x and -rbf-sigma-y go with -cka")
	case c.keyMissing != "error" && c.keyMissing != "drop":
		return usagef("-key-missing %q: want error or drop", c.keyMissing)
	case c.keyMissing == "drop" && c.key == "" || c.aligned && c.key != "":
		return usagef("-key-missing goes with -key, -aligned without it")
	case c.from != "" && !c.ci && c.permutations == 0:
		return usagef("-from is the second round of -ci or -permutations: give them")
	case c.minibatch < 0 || c.minibatch > 0 && c.minibatch < 4:
		return usagef("-minibatch %d: need at least 4 samples per batch", c.minibatch)
	case c.minibatch > 0 && (c.memText != "" || c.shard != "" || c.checkpoint != "" || c.estimator == "blocks"):
		return usagef("-minibatch does not combine with -mem, -shard, -checkpoint or -estimator blocks: minibatches are small")
	case c.minibatch > 0 && (c.ci || c.permutations > 0 || c.cka):
		return usagef("-minibatch does not combine with -ci, -permutations or -cka")
	}
	if c.shard != "" {
		if c.shardIndex, c.shardCount, err = parseShard(c.shard); err != nil {
			return err
		}
	}
	if c.memText != "" {
		if c.mem, err = parseSize(c.memText); err != nil {
			return err
		}
	}
	return nil
}

// spec is the part of the job's Spec the compute flags set.
func (c *computeFlags) spec(file string, stdin io.Reader) job.Spec {
	return job.Spec{
		File:            file,
		Stdin:           stdin,
		TempDir:         c.tmpdir,
		DropInvalid:     c.dropInvalid,
		Options:         job.Options{Exponent: c.exponent, Tile: c.tile, Precision: c.prec, Workers: c.workers, NormalizeRows: c.normalize},
		Memory:          c.mem,
		Shard:           c.shardIndex,
		Shards:          c.shardCount,
		CheckpointEvery: c.checkpointEvery,
		AfterPass:       c.afterPass,
		Estimator:       c.estimator,
		Block:           blockSize(c.estimator, c.block),
		Shuffle:         c.shuffle != nil,
		ShuffleSeed:     seedOf(c.shuffle),
		Budget:          c.budget,
		CI:              ciLevel(c.ci, c.ciLevel),
		Permutations:    c.permutations,
		Seed:            c.seed,
		CKA:             c.cka,
		Key:             c.key,
		KeyMissing:      keyMissing(c.key, c.keyMissing),
		Aligned:         c.aligned,
		Minibatch:       c.minibatch,
	}
}

// sigmas are the bandwidths of Spec.RBFSigma for k spaces: -rbf-sigma
// for every space (0: the median heuristic), -rbf-sigma-x and
// -rbf-sigma-y for x and y; nil if none is given.
func (c *computeFlags) sigmas(k int) []float64 {
	if c.rbfSigma == 0 && c.rbfSigmaXY == [2]float64{} {
		return nil
	}
	s := make([]float64, k)
	for k := range s {
		s[k] = c.rbfSigma
	}
	for k, v := range c.rbfSigmaXY {
		if v > 0 {
			s[k] = v
		}
	}
	return s
}

// keyMissing is the Spec.KeyMissing of the flags: none without -key.
func keyMissing(key, missing string) string {
	if key == "" {
		return ""
	}
	return missing
}

func seedOf(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func blockSize(estimator string, b int) int {
	if estimator == "blocks" {
		return b
	}
	return 0
}

func ciLevel(on bool, level float64) float64 {
	if on {
		return level
	}
	return 0
}

// newFlagSet returns the flag set of a command that prints usage, then
// the flags, for -h.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args into fs and returns the FILE arguments. Flags may come
// before, between or after them (dcor-stream acts.arrow -x a -y b); after
// "--" every argument is a FILE. More than one FILE is a usage error
// unless many. -h returns flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string, many bool) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		// Parse stops at the first FILE, or after a "--" it consumes.
		rest := fs.Args()
		if n := len(args) - len(rest); len(rest) == 0 || n > 0 && args[n-1] == "--" {
			files = append(files, rest...)
			break
		}
		files, args = append(files, rest[0]), rest[1:]
	}
	if len(files) > 1 && !many {
		return nil, usagef("more than one FILE: %s", strings.Join(files, " "))
	}
	return files, nil
}

// checkHeatmap checks the -heatmap file's extension.
func checkHeatmap(file string) error {
	if ext := strings.ToLower(filepath.Ext(file)); file != "" && ext != ".png" && ext != ".svg" {
		return usagef("-heatmap %q: want a .png or .svg file", file)
	}
	return nil
}

// parseShard parses "I/N" with 0 <= I < N.
func parseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, usagef("-shard %q: want I/N with 0 <= I < N", s)
	}
	return i, n, nil
}

// parseSize parses a memory size: a number of bytes, optionally followed
// by a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (of
// 1024), in any case.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(c rune) bool { return !(c >= '0' && c <= '9' || c == '.') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || !(v*mult >= 1) || v*mult >= 1<<62 {
		return 0, usagef("-mem %q: want a size such as 64MiB, 8GiB, 512MB or a number of bytes", s)
	}
	return int64(v * mult), nil
}

// inputs returns the files the specs read (for the -state and
// -checkpoint protections).
func inputs(file string, specs []stream.Spec) []string {
	out := []string{file}
	for _, s := range specs {
		out = append(out, s.File)
	}
	return out
}

// keptCheckpoint is a checkpoint that Run does not remove: the command
// removes it once the results or the shard's state are written.
type keptCheckpoint struct{ *job.StateFile }

func (keptCheckpoint) Remove() error { return nil }

// runJob runs spec with the command's checkpoint, state file and
// progress; then it writes a shard's state to -state, or calls write with
// the outcome of a whole job; then it removes the checkpoint.
func (c *computeFlags) runJob(ctx context.Context, spec job.Spec, stderr io.Writer, write func(*job.Outcome) error) error {
	ins := inputs(spec.File, spec.Spaces)
	var state *job.StateFile
	if c.state != "" {
		// Opened (and locked) first, so that a clash is found before
		// the work.
		var err error
		if state, err = job.OpenStateFile(c.state, ins); err != nil {
			return err
		}
		defer state.Close()
	}
	if c.checkpoint != "" {
		cp, err := job.OpenStateFile(c.checkpoint, ins)
		if err != nil {
			return err
		}
		defer cp.Close()
		spec.Checkpoint = keptCheckpoint{cp}
	}
	if c.from != "" {
		from, err := job.ReadStateFile(c.from)
		if err != nil {
			return err
		}
		if from == nil {
			return fmt.Errorf("-from %s: an empty file, not a state: %w", c.from, job.ErrState)
		}
		spec.From = from
	}
	spec.Notify = func(msg string) { fmt.Fprintf(stderr, "dcor-stream: %s\n", msg) }
	if c.mem > 0 && os.Getenv("GOMEMLIMIT") == "" {
		// The garbage collector keeps the heap near the budget (plus
		// room for the runtime and the input's decoding buffers): by
		// default it lets the heap grow to twice what is live, the input
		// batches of each pass being garbage.
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(c.mem + 16<<20))
	}
	if c.mem == 0 && os.Getenv("GOGC") == "" {
		// In memory, the footprint is meant to be the data plus small
		// change (the README's model). Loading decodes batch after batch
		// into garbage, and by default the collector lets the heap grow
		// to twice what is live, the data included: a Parquet input of
		// 51 MB peaked 50 MB higher. The data is pointer-free float64, so
		// a collection has little to mark and a lower target costs no
		// measurable CPU.
		defer debug.SetGCPercent(debug.SetGCPercent(25))
	}
	prog := newProgress(stderr, c.quiet, c.progress, 0)
	if prog != nil {
		if c.mem > 0 {
			prog.unit = "pairs"
		}
		spec.Progress = prog.job
		defer prog.finish()
	}
	if err := addProgressFD(&spec, c.progressFD); err != nil {
		return err
	}
	out, err := job.Run(ctx, spec)
	prog.finish()
	if err != nil {
		return err
	}
	if state != nil {
		if err := state.Save(ctx, out.State); err != nil {
			return err
		}
		tiles := out.State.Tiles
		fmt.Fprintf(stderr, "dcor-stream: shard %d/%d (tiles %d to %d) written to %s\n",
			out.State.Shard, out.State.Shards, tiles[0], tiles[1], c.state)
	} else if err := write(out); err != nil {
		return err
	}
	if cp, ok := spec.Checkpoint.(keptCheckpoint); ok {
		return cp.StateFile.Remove()
	}
	return nil
}

// exitCode prints err, prefixed by the command's name ("dcor-stream",
// "dcor-stream matrix"), and returns the exit status it calls for: 0 for
// nil or -h, 2 for a usage error (the flags', or a combination the job
// refuses: *job.SpecError), 1 otherwise.
func exitCode(err error, name string, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	var ue usageError
	var se *job.SpecError
	if errors.As(err, &ue) || errors.As(err, &se) {
		fmt.Fprintf(stderr, "run '%s -h' for usage\n", name)
		return 2
	}
	return 1
}
