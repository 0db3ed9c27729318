// Package job runs a whole dcor-stream job, described as data by a Spec:
// the inputs and their feature spaces, the statistics wanted (the pair of
// X and Y with the partial given Z, or a matrix of rows × columns with an
// optional given space), the computation's parameters, the schedule (in
// memory, or out of core under a memory budget), an optional shard of the
// tile grid, an optional Checkpointer, a progress callback and a context.
// Run composes them all: every statistic works in every schedule, shard
// and resume, and gives the same bits as the one in-memory run, because
// the state (estimator.Stats) adds every tile exactly, in any order.
//
// States (State) have one versioned, checksummed format for any number of
// spaces (see State.MarshalBinary); Merge adds the states of the shards of
// a job; Results turns a complete state into the statistics, as Go
// structs whose JSON is what the dcor-stream command prints.
package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/stream"
)

// SpecError is the error of a Spec that does not describe a job: a
// choice of the caller (a command line), not of the data. It wraps
// ErrSpec.
type SpecError struct{ msg string }

func (e *SpecError) Error() string { return e.msg + ": " + ErrSpec.Error() }

// Unwrap returns ErrSpec.
func (e *SpecError) Unwrap() error { return ErrSpec }

// Errors of Run, wrapped with context.
var (
	// ErrSpec is returned for a Spec that does not describe a job.
	ErrSpec = errors.New("job: invalid spec")
	// ErrInterrupted is returned when ctx is cancelled during Run. With
	// a Checkpointer, the tiles added so far were saved first, and a Run
	// of the same Spec resumes from them.
	ErrInterrupted = errors.New("interrupted")
	// ErrChanged is returned when an input read again under a memory
	// budget holds other values than in the first pass.
	ErrChanged = errors.New("input changed between passes")
	// ErrBudget is returned when a space needs more memory than the
	// budget (Spec.Memory, or the machine's memory) allows.
	ErrBudget = errors.New("over the memory budget")
)

// Spec describes a job. Give the inputs one way: Spaces read from files
// (File being the file of the specs that name none), or Data held in
// memory, or Reader, an open stream.Reader. The zero values of the other
// fields select the defaults: the pair mode, in memory, the whole grid, no
// checkpoint.
type Spec struct {
	File   string        // the default file of Spaces
	Spaces []stream.Spec // the K feature spaces, read from files
	Data   []stream.Space
	// Data, instead of Spaces: the spaces in memory (each Dim ≥ 1, the
	// same number of rows). Run only reads them.
	Reader *stream.Reader
	// Reader, instead of Spaces: an open reader, not closed by Run;
	// re-readable (stream.Reader.Rereadable) under a memory budget.
	Labels      []string  // optional: one per space, its name in reports (default: the spec)
	Stdin       io.Reader // read for the file "-"; optional, default os.Stdin
	TempDir     string    // where standard input is spilled under a memory budget; optional
	DropInvalid bool      // drop the rows with a null, NaN or ±Inf in any space (else an error)
	// Key, with Spaces, aligns the files by the sample IDs of this column
	// instead of row order (see stream.Options.Key): sample i is the i-th
	// row of the first space's file whose ID is in every file. With
	// KeyMissing "drop" the IDs not in every file are left out (and
	// reported through Notify); "" or "error" refuses them.
	Key        string
	KeyMissing string
	// Aligned, without Key, takes the rows of the files as aligned as
	// they are; else .npy inputs whose sample IDs beside them differ
	// are refused (see stream.Options.Aligned).
	Aligned bool

	// Matrix asks for the matrix of Matrix.Rows × Matrix.Cols; nil asks
	// for the pair mode: spaces 0 and 1 (X and Y), and with a space 2 (Z)
	// the partial statistics given it.
	Matrix *Matrix

	Options Options

	// Memory is the out-of-core budget in bytes: a first pass reads n,
	// then each pass holds the largest panel of rows that fits with the
	// workers' scratch and streams every later row past it. 0 loads the
	// data in memory.
	Memory int64

	// Shard of Shards computes only that part of the tile grid
	// (block.Shard); Merge adds the states of all the shards. Shards 0
	// means 1, the whole grid.
	Shard, Shards int

	// Checkpoint, if not nil, is loaded when Run starts (and resumed from
	// if it holds a state of the same job: else Run fails, saying why),
	// saved every CheckpointEvery (default 1 minute; and after the first
	// tile), saved when ctx is cancelled, and removed when the job is
	// done.
	Checkpoint      Checkpointer
	CheckpointEvery time.Duration

	// Progress, if not nil, is called after each tile is added, from the
	// goroutine that called Run.
	Progress func(Progress)

	// Every N > 0 is the online mode (pair mode, in memory, whole grid,
	// no checkpoint): the rows are added N at a time as they are read,
	// and OnEvery is called with the statistics of the rows so far after
	// each N rows. The result is then the online estimate (block.Online).
	Every   int
	OnEvery func(*Pair) error

	// Minibatch B > 0 is the minibatch estimator (pair or matrix mode, in
	// memory, whole job, no checkpoint): every statistic is replaced by
	// its mean over batches of B samples, a different, biased and noisier
	// estimator (see runMinibatch); the result is a MatrixResult (1×1 for
	// a pair). The batches are consecutive rows, or with Shuffle the rows
	// in the order of the seeded permutation
	// block.NewPermutation(n, ShuffleSeed).
	Minibatch   int
	Shuffle     bool
	ShuffleSeed uint64

	// Estimator chooses how the state is computed: "" or "auto" (the
	// exact O(n log n) univariate path when every space is univariate,
	// α = 1, n > 10,000 and no -ci or permutations are asked, else the
	// tiles),
	// "tiles" (the exact tile schedule always), or "univariate" (fails
	// unless it applies). Every schedule and shard of a job takes the same
	// path, so their states merge to the same bits.
	Estimator string
	// Block is the block size B of Estimator "blocks": the block
	// estimator (one pass, files, a stream or Data): exact U-statistics
	// of each block of B consecutive rows averaged as components, with
	// delete-one-block standard errors (see BlockPair in the pair mode,
	// MatrixResult in the matrix mode). In the pair mode with Every > 0,
	// OnBlocks gets the running estimate every Every rows.
	Block    int
	OnBlocks func(*BlockPair) error
	// Shuffle (above) also takes the rows in the order of the seeded
	// permutation block.NewPermutation(n, ShuffleSeed) (its Of(0)[i] is
	// the i-th row read) for the block estimator, whose assumption is
	// that block membership is unrelated to the data: an ordered file
	// (sorted by time, class, source) breaks it. It loads the input in
	// memory (n·(p+q)·8 bytes); standard input, read once, cannot be
	// shuffled for it.

	// Budget > 0 chooses the estimator by time (Estimator "" or "auto"):
	// the input is loaded, a short calibration measures this machine's
	// rate on the job's own data, and the exact run is taken if its
	// predicted time fits the budget, else the block estimator with the
	// largest block that fits (the smallest predicted SE). The choice and
	// its reasons are the results' Budget (see Choice).
	Budget time.Duration

	// Inference and extra statistics. CI in (0, 1) adds delete-one
	// jackknife standard errors and normal intervals at that level: one
	// more pass over the tiles after the state, in every schedule, with
	// checkpoints, and for shards in two rounds (From; see
	// docs/sharding.md). Permutations R > 0 adds the permutation test of
	// independence of the pair (permutations drawn from Seed), a pass of
	// the same kind (every schedule; y is held in memory, within the
	// budget) and, given Z, the test of pdCov = 0 as energy::pdcov.test in
	// the same pass (z held too); in the matrix mode, the test of
	// independence of every entry, the column spaces held. CKA adds debiased
	// linear CKA and unbiased linear HSIC (in feature space, O(n·p·q)),
	// and debiased CKA and unbiased HSIC with the Gaussian kernel (in the
	// tiles; bandwidths RBFSigma), on every schedule: their sums are parts
	// of the state (added in the pass that loads or scans the rows, by the
	// first shard, or in the tiles), saved in checkpoints and added by
	// Merge.
	CI float64
	// Compare, with CI in the matrix mode, are contrasts of its entries
	// ("ROW,COL-ROW,COL", see MatrixResult.ParseContrast) added to the
	// result's Contrasts. Their labels are checked once the spaces are
	// open, before the first tile: a bad one is a *SpecError naming it
	// and the labels there are. (A shard's run only checks them: merge
	// the shards, then MatrixResult.AddContrasts.)
	Compare []string
	// From, with CI or Permutations, is the complete state of the whole
	// job (the merge of the shards of a first round): the run computes
	// the passes of its shard given it, and its State is of the last,
	// which Merge adds across the shards.
	From         *State
	Permutations int
	Seed         uint64
	CKA          bool
	// RBFSigma, with CKA, are the bandwidths σ of the Gaussian kernel of
	// RBF CKA, per space (in the units of the data); a space without one
	// (0, or beyond the slice) takes the median heuristic over its first
	// MedianRows rows. RBF CKA is summed in the tiles of dCor, for the
	// exponents 0.5, 1 and 2 in float64; else, and on the univariate
	// path, which forms no distances, it is left out with a notice.
	RBFSigma []float64

	// Notify, if not nil, receives messages for the user (the layout of
	// an out-of-core run, a resume).
	Notify func(string)
	// AfterPass, if not nil, is called after each pass over the input
	// under a memory budget, with the number of passes so far.
	AfterPass func(pass int)

	dropped int    // rows dropped as invalid before Data was handed on (a Budget run)
	rates   *rates // tests: a Budget run's rates, instead of a calibration
}

// Options are the parameters of the computation.
type Options struct {
	Exponent  float64         // α in (0, 2]; optional, default 1
	Tile      int             // tile edge in rows; optional, default block.DefaultTileSize
	Precision block.Precision // of the Gram products; optional, default block.Float64
	Workers   int             // optional; default runtime.GOMAXPROCS(0), at most 4,096; the result does not depend on it
	// NormalizeRows scales each sample's vector to unit L2 norm, per
	// space, before distances (as the seed paper's training loss does; its
	// heatmap and partial scripts do not); zero rows
	// stay 0.
	NormalizeRows bool
}

// Matrix is the layout of a matrix job: the statistics of every pair
// (Rows[i], Cols[j]) of spaces, indices into the job's spaces, and with
// Given ≥ 0 the partial statistics given that space.
type Matrix struct {
	Rows  []int `json:"rows"`
	Cols  []int `json:"cols"`
	Given int   `json:"given"` // the given space Z, or NoGiven
	// For reports: Square when the rows and the columns are the same
	// spaces, and the titles of the rows and columns.
	Square   bool   `json:"square"`
	RowTitle string `json:"row_title,omitempty"`
	ColTitle string `json:"col_title,omitempty"`
}

// NoGiven is Matrix.Given without a given space.
const NoGiven = -1

func (m *Matrix) check(k int) error {
	if len(m.Rows) == 0 || len(m.Cols) == 0 {
		return errors.New("a matrix of no rows or no columns")
	}
	for _, i := range append(append([]int{m.Given}, m.Rows...), m.Cols...) {
		if i < NoGiven || i >= k {
			return fmt.Errorf("matrix space %d of %d spaces", i, k)
		}
	}
	if m.Rows[0] == NoGiven || m.Cols[0] == NoGiven {
		return errors.New("matrix space -1")
	}
	for _, i := range append(append([]int(nil), m.Rows...), m.Cols...) {
		if i < 0 {
			return errors.New("matrix space -1")
		}
	}
	return nil
}

func (m *Matrix) equal(o *Matrix) bool {
	eq := func(a, b []int) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	return eq(m.Rows, o.Rows) && eq(m.Cols, o.Cols) && m.Given == o.Given &&
		m.Square == o.Square && m.RowTitle == o.RowTitle && m.ColTitle == o.ColTitle
}

// Progress is how far a Run is, in tiles and in pairs of samples, of the
// tiles of its shard (all of them for a whole job).
type Progress struct {
	Tiles, TotalTiles int
	Pairs, TotalPairs int64
	// Resumed: what a checkpoint held when Run started.
	ResumedTiles int
	ResumedPairs int64
}

// Outcome is what Run returns.
type Outcome struct {
	// State is the state of the job (of its shard with Spec.Shards > 1);
	// nil in the online and minibatch modes.
	State *State
	// Results are the statistics of a whole job (not a shard).
	Results
	Passes    int // passes over the input under a memory budget
	PanelRows int // rows held per pass under a memory budget
	Resumed   int // tiles found done in the checkpoint
}

// Run runs the job spec describes. See Spec for the inputs and modes;
// every combination gives the same state, to the bit, as the one
// in-memory run of the whole grid.
//
// Errors: a *SpecError (wrapping ErrSpec) for an invalid spec; the errors of the stream, block and
// estimator packages for the data (naming the file, column and row); an
// error wrapping ErrState when the checkpoint is of another job or
// corrupt; ErrChanged when an input changes between passes; ErrBudget;
// and, when ctx is cancelled, an error wrapping both ErrInterrupted and
// ctx.Err(), after saving the checkpoint.
func Run(ctx context.Context, spec Spec) (*Outcome, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	if spec.Budget > 0 {
		return runBudget(ctx, &spec)
	}
	if spec.Estimator == "blocks" {
		return runBlocks(ctx, &spec)
	}
	if spec.Every > 0 {
		return runOnline(ctx, &spec)
	}
	if spec.Minibatch > 0 {
		return runMinibatch(ctx, &spec)
	}
	r := &runner{spec: &spec}
	run := r.inMemory
	if spec.Memory > 0 {
		run = r.outOfCore
	}
	out, err := run(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrInterrupted) {
		// Cancelled before the first tile (reading, scanning): nothing
		// to save.
		return nil, fmt.Errorf("%w before any tile was added: %w", ErrInterrupted, err)
	}
	return out, err
}

func (s *Spec) check() error {
	bad := func(format string, args ...any) error {
		return &SpecError{fmt.Sprintf(format, args...)}
	}
	k := len(s.Spaces)
	inputs := 0
	if k > 0 {
		inputs++
	}
	if s.Data != nil {
		inputs++
		k = len(s.Data)
	}
	if s.Reader != nil {
		inputs++
		k = len(s.Reader.Spaces())
	}
	o := s.Options
	switch {
	case inputs != 1:
		return bad("give the spaces one way: Spaces, Data or Reader")
	case s.Labels != nil && len(s.Labels) != k:
		return bad("%d labels for %d spaces", len(s.Labels), k)
	case !(o.Exponent == 0 || o.Exponent > 0 && o.Exponent <= 2):
		return bad("exponent %v outside (0, 2]", o.Exponent)
	case o.Tile < 0 || o.Workers < 0 || s.Memory < 0 || s.Every < 0 || s.CheckpointEvery < 0:
		return bad("negative tile size, workers, memory, every or checkpoint interval")
	case s.Shards < 0 || s.Shard < 0 || s.Shard >= max(1, s.Shards):
		return bad("shard %d of %d", s.Shard, s.Shards)
	case (s.Key != "" || s.KeyMissing != "") && len(s.Spaces) == 0:
		return bad("sample IDs (-key) align files: give the spaces as Spaces")
	case s.KeyMissing != "" && s.KeyMissing != "error" && s.KeyMissing != "drop":
		return bad("-key-missing %q: want error or drop", s.KeyMissing)
	case s.KeyMissing != "" && s.Key == "":
		return bad("-key-missing goes with -key")
	case s.Key != "" && (s.Every > 0 || s.Estimator == "blocks") && slices.Contains(s.files(), "stdin"):
		return bad("-key reads every sample ID before the first row: not with the online mode or the block estimator on standard input, which may not end")
	case s.Matrix == nil && k != 2 && k != 3:
		return bad("the pair mode takes 2 or 3 spaces (x, y and z), not %d", k)
	case s.Every > 0 && s.Estimator != "blocks" && (s.Matrix != nil || s.Memory > 0 || s.Shards > 1 || s.Checkpoint != nil):
		return bad("the online mode (every %d rows) is for a whole pair job in memory without a checkpoint", s.Every)
	}
	extras := s.CI != 0 || s.Permutations != 0
	switch {
	case !(s.CI == 0 || s.CI > 0 && s.CI < 1):
		return bad("confidence level %v outside (0, 1)", s.CI)
	case s.Permutations < 0:
		return bad("%d permutations", s.Permutations)
	case len(s.Compare) > 0 && (s.Matrix == nil || s.CI == 0):
		return bad("-compare needs -ci (the covariance of the entries) in the matrix mode")
	case s.CI > 0 && (s.Every > 0 || s.Minibatch > 0):
		return bad("intervals are for the exact schedules (not the online or the minibatch mode)")
	case s.From != nil && s.CI == 0 && s.Permutations == 0:
		return bad("a complete state to start from (-from) is for the passes of -ci and -permutations")
	case s.Permutations > 0 && (s.Every > 0 || s.Minibatch > 0):
		return bad("permutation tests are for the exact schedules (not the online or the minibatch mode)")
	case slices.ContainsFunc(s.RBFSigma, func(v float64) bool { return !(v >= 0) || math.IsInf(v, 0) }):
		return bad("RBF bandwidths %v: want positive numbers", s.RBFSigma)
	case s.CKA && (s.Every > 0 || s.Minibatch > 0):
		return bad("CKA is computed over the whole job (not in the online or the minibatch mode), for now")
	case s.Estimator != "" && s.Estimator != "auto" && s.Estimator != "tiles" && s.Estimator != "univariate" && s.Estimator != "blocks":
		return bad("estimator %q: want auto, tiles, univariate or blocks", s.Estimator)
	case s.Estimator == "blocks" && (s.Block < 4 || s.Memory > 0 || s.shards() > 1 || s.Checkpoint != nil || extras || s.CKA):
		return bad("the block estimator needs -block of at least 4, without a memory budget (its memory is one block), shards, checkpoints, intervals, permutations or CKA, for now")
	case s.Estimator == "blocks" && s.Matrix != nil && (s.Minibatch > 0 || s.Every > 0):
		return bad("the block estimator of the matrix mode takes neither -minibatch (another estimator) nor a running estimate")
	case s.Estimator != "blocks" && s.Block != 0:
		return bad("a block size goes with the block estimator")
	case s.Shuffle && s.Estimator != "blocks" && s.Minibatch == 0:
		return bad("a shuffle of the rows goes with the block or the minibatch estimator")
	case s.Shuffle && s.Estimator == "blocks" && slices.Contains(s.files(), "stdin"):
		return bad("standard input cannot be shuffled: it is read once, one block at a time, and a permutation needs every row before the first block; shuffle upstream (a shuffled loader) or write the stream to a file")
	case s.Budget < 0:
		return bad("negative time budget %v", s.Budget)
	case s.Budget > 0 && (s.Estimator != "" && s.Estimator != "auto" || s.Memory > 0 || s.shards() > 1 || s.Checkpoint != nil || s.Every > 0 || extras || s.Minibatch > 0):
		return bad("a time budget chooses the estimator itself, in memory, for the whole job: it takes no -estimator, -mem, -shard, -checkpoint, -every, -minibatch, intervals, permutations or CKA")
	case s.Estimator == "univariate" && (s.CI > 0 || s.Permutations > 0):
		return bad("the univariate path forms no distances: intervals and permutation tests need -estimator tiles (or auto)")
	}
	if m := s.Matrix; m != nil {
		if err := m.check(k); err != nil {
			return bad("%v", err)
		}
	}
	if s.Minibatch != 0 && (s.Minibatch < 4 || s.Memory > 0 || s.Shards > 1 || s.Checkpoint != nil || s.Every > 0 || s.Estimator == "blocks" || s.Estimator == "univariate") {
		return bad("minibatch %d: need at least 4 samples, in memory, whole job, no checkpoint, not the online mode, the block estimator or the univariate path", s.Minibatch)
	}
	if _, err := block.ParsePrecision(o.Precision.String()); err != nil {
		return bad("precision %v", o.Precision)
	}
	return nil
}

// blockOptions are the block options of the job.
func (s *Spec) blockOptions() block.Options {
	return block.Options{Exponent: s.Options.Exponent, TileSize: s.Options.Tile, Workers: s.workers(), Precision: s.Options.Precision}
}

// stateOptions are the options recorded in states.
func (s *Spec) stateOptions() StateOptions {
	o := s.Options
	a := o.Exponent
	if a == 0 {
		a = 1
	}
	t := o.Tile
	if t == 0 {
		t = block.DefaultTileSize
	}
	return StateOptions{Exponent: a, Tile: t, DropInvalid: s.DropInvalid, Precision: o.Precision.String(), NormalizeRows: o.NormalizeRows}
}

// shards is Shards, 1 for 0.
func (s *Spec) shards() int { return max(1, s.Shards) }

func (s *Spec) notify(format string, args ...any) {
	if s.Notify != nil {
		s.Notify(fmt.Sprintf(format, args...))
	}
}
