package format

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

func TestSchemaID(t *testing.T) {
	for _, tc := range []struct {
		in      []byte
		id      int
		rest    string
		wantErr error
	}{
		{[]byte{0, 0, 0, 0, 42, 'x'}, 42, "x", nil},
		{[]byte{0, 0x7f, 0xff, 0xff, 0xff}, 1<<31 - 1, "", nil},
		{[]byte{}, 0, "", ErrTruncated},
		{[]byte{0, 0, 0}, 0, "", ErrTruncated},
		{[]byte(`{"a":1}`), 0, "", ErrMagic},
		{[]byte{1, 0, 0, 0, 1}, 0, "", ErrMagic},
	} {
		id, rest, err := SchemaID(tc.in)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("SchemaID(%x) err = %v, want %v", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || id != tc.id || string(rest) != tc.rest {
			t.Errorf("SchemaID(%x) = %d, %q, %v", tc.in, id, rest, err)
		}
	}
}

// TestFramingAgreesWithSR checks our reader against franz-go's writer.
func TestFramingAgreesWithSR(t *testing.T) {
	var h sr.ConfluentHeader
	for _, index := range [][]int{nil, {0}, {1}, {2, 0, 3}, {0, 0}} {
		b, err := h.AppendEncode(nil, 7, index)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, "payload"...)
		id, rest, err := SchemaID(b)
		if err != nil || id != 7 {
			t.Fatalf("SchemaID = %d, %v", id, err)
		}
		if index == nil {
			if string(rest) != "payload" {
				t.Errorf("rest %q", rest)
			}
			continue
		}
		got, rest, err := MessageIndexes(rest, id, nil)
		if err != nil || !slices.Equal(got, index) || string(rest) != "payload" {
			t.Errorf("MessageIndexes for %v = %v, %q, %v", index, got, rest, err)
		}
	}
}

func TestMessageIndexesHostile(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"count cut off", []byte{0x80}, ErrTruncated},
		{"negative count", []byte{0x01}, ErrCorrupt},
		// a count of 2^62 with two bytes left: must fail before allocating
		{"huge count", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 2, 2}, ErrCorrupt},
		{"count above bytes", []byte{0x08, 2}, ErrCorrupt},
		{"index cut off", []byte{0x02, 0x80}, ErrTruncated},
		{"varint overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrCorrupt},
		{"negative index", []byte{0x02, 0x03}, ErrCorrupt},
	} {
		// many runs: AllocsPerRun counts the whole process's allocations,
		// so a goroutine of another test allocating meanwhile must not
		// tip the average (it did once, under -race in CI: 5)
		allocs := testing.AllocsPerRun(2000, func() {
			_, _, err := MessageIndexes(tc.in, 1, make([]int, 0, 4))
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			}
		})
		if allocs > 4 { // the error and its message; never the declared count
			t.Errorf("%s: %v allocations", tc.name, allocs)
		}
	}
}
