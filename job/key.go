package job

import (
	"fmt"
	"strings"

	"github.com/dcor-stream/dcor-stream/stream"
)

// notifyKey tells the user how the files were aligned by sample ID: the
// samples joined, the rows left out (-key-missing drop) and the files
// rewritten in the first file's order.
func (s *Spec) notifyKey(rep *stream.KeyReport) {
	if rep == nil {
		return
	}
	var dropped, moved []string
	for f, name := range rep.Files {
		if rep.Dropped[f] > 0 {
			dropped = append(dropped, fmt.Sprintf("%d of %d rows of %s", rep.Dropped[f], rep.Rows[f], name))
		}
		if rep.Reordered[f] && f > 0 {
			moved = append(moved, name)
		}
	}
	msg := fmt.Sprintf("-key %s: %d samples, in the row order of %s", rep.Key, rep.N, rep.Files[0])
	if len(moved) > 0 {
		msg += fmt.Sprintf("; rows of %s rewritten in that order", strings.Join(moved, ", "))
	}
	if len(dropped) > 0 {
		msg += fmt.Sprintf("; dropped (their IDs not in every file): %s", strings.Join(dropped, ", "))
	}
	s.notify("%s", msg)
}
