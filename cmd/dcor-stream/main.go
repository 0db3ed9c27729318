// Dcor-stream computes the exact distance correlation, bias-corrected
// distance correlation with its t-test, and partial distance correlation
// between feature spaces of an Arrow, CSV or Parquet file, without ever
// holding the n×n distance matrix.
//
// Usage:
//
//	dcor-stream -x SPEC -y SPEC [-z SPEC] [flags] [FILE]
//
// A SPEC selects one feature space: [FILE:]COLUMNS, where COLUMNS is one
// list column (FixedSizeList or List of numbers, one vector per row), one
// scalar column, a comma list of scalar columns, or a glob over their names
// ("x_*"; "*" is every column). FILE, or the whole SPEC when it names an
// existing file, reads that space from its own file, aligned by row order
// with the others; "-" is standard input (an Arrow IPC stream).
//
// Exit status: 0 on success, 1 for a data or runtime error (also when
// interrupted by SIGTERM or SIGINT, after writing -checkpoint), 2 for a
// usage error, 3 for an internal error (a panic: a bug).
//
// The computation is package job; this command only parses flags into a
// job.Spec, renders the results, draws the progress bar and sets the exit
// status.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/dcor-stream/dcor-stream/objstore" // s3://, gs://, azblob://
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
