package job

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/dcor-stream/dcor-stream/stream"
)

// countPart is a Part for the tests: a count added by Merge.
type countPart struct {
	kind string
	n    uint64
}

func (p *countPart) Kind() string { return p.kind }
func (p *countPart) MarshalBinary() ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, p.n), nil
}
func (p *countPart) Merge(o Part) error {
	p.n += o.(*countPart).n
	return nil
}

func init() {
	for _, kind := range []string{"test-a", "test-b"} {
		registerPart(kind, func(b []byte) (Part, error) {
			if len(b) != 8 {
				return nil, errors.New("want 8 bytes")
			}
			return &countPart{kind, binary.LittleEndian.Uint64(b)}, nil
		})
	}
}

func partsState(t *testing.T, shard, shards int, a, b uint64) *State {
	t.Helper()
	data := make([]stream.Space, 2)
	for k := range data {
		data[k] = stream.Space{Dim: 1, Data: make([]float64, 12)}
		for i := range 12 {
			data[k].Data[i] = float64((i*7+k*3)%12) + 0.5*float64(k)
		}
	}
	out, err := Run(t.Context(), Spec{Data: data, Options: Options{Tile: 4}, Shard: shard, Shards: shards})
	if err != nil {
		t.Fatal(err)
	}
	s := out.State
	// Given out of order: the file holds them sorted.
	s.Parts = []Part{&countPart{"test-b", b}, &countPart{"test-a", a}}
	return s
}

// TestStateParts: parts round-trip through the state file, sorted by
// kind; every single-bit change of a file with parts is refused; Merge
// adds them kind by kind and refuses shards holding other kinds.
func TestStateParts(t *testing.T) {
	s := partsState(t, 0, 1, 3, 5)
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var r State
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if len(r.Parts) != 2 || r.Parts[0].Kind() != "test-a" || r.Part("test-a").(*countPart).n != 3 || r.Part("test-b").(*countPart).n != 5 {
		t.Fatalf("parts read back: %v", r.Parts)
	}
	again, err := r.MarshalBinary()
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("re-encoding differs (%v)", err)
	}
	for i := range 8 * len(b) {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		if err := r.UnmarshalBinary(c); !errors.Is(err, ErrState) {
			t.Fatalf("bit %d of %d flipped: %v", i, 8*len(b), err)
		}
	}
	// A kind this build does not know is refused by name, even with a
	// valid checksum.
	s.Parts = []Part{&countPart{"test-z", 1}}
	if _, err := s.MarshalBinary(); err == nil {
		t.Fatal("a part of an unregistered kind was written")
	}
	s.Parts = []Part{&countPart{"test-a", 1}}
	b, _ = s.MarshalBinary()
	i := bytes.Index(b, []byte("test-a"))
	copy(b[i:], "test-z")
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	if err := r.UnmarshalBinary(b); !errors.Is(err, ErrState) || !bytes.Contains([]byte(err.Error()), []byte("test-z")) {
		t.Fatalf("unknown kind: %v", err)
	}

	s0, s1 := partsState(t, 0, 2, 1, 10), partsState(t, 1, 2, 2, 20)
	m, err := Merge(s0, s1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Part("test-a").(*countPart).n != 3 || m.Part("test-b").(*countPart).n != 30 {
		t.Fatalf("merged parts %v", m.Parts)
	}
	if s0.Part("test-a").(*countPart).n != 1 {
		t.Fatal("Merge modified its input")
	}
	s1.Parts = s1.Parts[:1]
	if _, err := Merge(s0, s1); !errors.Is(err, ErrState) {
		t.Fatalf("shards with other parts merged: %v", err)
	}
}

// TestStateFormat2: a state file of format 2 (no parts section) is read.
func TestStateFormat2(t *testing.T) {
	s := partsState(t, 0, 1, 0, 0)
	s.Parts = nil
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h := int(binary.LittleEndian.Uint32(b[20:]))
	body, _, _ := chunk(b[24+h:], 8)
	old := append(bytes.Clone(b[:24+h]), body...)
	binary.LittleEndian.PutUint32(old[8:], 2)
	binary.LittleEndian.PutUint64(old[12:], uint64(len(old)+4))
	old = binary.LittleEndian.AppendUint32(old, crc32.Checksum(old, castagnoli))
	var r State
	if err := r.UnmarshalBinary(old); err != nil {
		t.Fatal(err)
	}
	if r.N != s.N || len(r.Parts) != 0 {
		t.Fatalf("format 2 read as n %d, parts %v", r.N, r.Parts)
	}
	again, _ := r.MarshalBinary()
	if !bytes.Equal(again, b) {
		t.Fatal("format 2 state re-encoded differently from the same state in format 3")
	}
}
