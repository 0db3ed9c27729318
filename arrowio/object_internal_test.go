package arrowio

import (
	"errors"
	"strings"
	"testing"
)

// TestObjectStoreUnregistered: without a store registered for its scheme
// (a program that does not import package objstore), an object is
// ErrUnsupported saying what to import, and it is still an object URL.
func TestObjectStoreUnregistered(t *testing.T) {
	stores.mu.Lock()
	saved := stores.m
	stores.m = nil
	stores.mu.Unlock()
	defer func() {
		stores.mu.Lock()
		stores.m = saved
		stores.mu.Unlock()
	}()
	_, err := Open(t.Context(), "gs://b/x.arrow", Options{})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `gs://b/x.arrow: `) || !strings.Contains(err.Error(), `import _ "github.com/dcor-stream/dcor-stream/objstore"`) {
		t.Errorf("Open(gs://b/x.arrow) without stores: %v, want ErrUnsupported naming it and package objstore", err)
	}
	if !IsObjectURL("gs://b/x.arrow") {
		t.Error("IsObjectURL(gs://b/x.arrow) = false without stores")
	}
}
