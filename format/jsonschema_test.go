package format

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/value"
)

func TestJSONSchema(t *testing.T) {
	c := cacheOf(t, map[int]sr.Schema{8: {Schema: `{"type":"object"}`, Type: sr.TypeJSON}, 1: {Schema: bidAvro}})
	d := NewJSONSchema(c, decode.NewPlan(paths("price", "dateTime")).WithTime(1))
	out := make([]value.Value, 2)
	frame := func(id byte, s string) []byte { return append([]byte{0, 0, 0, 0, id}, s...) }
	if err := d.Decode(frame(8, `{"price":3,"dateTime":"2026-01-01T00:00:10Z"}`), out); err != nil {
		t.Fatal(err)
	}
	if out[0] != value.OfInt(3) || out[1] != value.OfTime(1767225610000) {
		t.Errorf("got %v", out)
	}
	for _, tc := range []struct {
		rec  []byte
		want error
	}{
		{[]byte(`{"price":3}`), ErrMagic},
		{frame(8, `{"price":`), ErrCorrupt},
		{frame(9, `{}`), ErrUnknownSchema},
		{frame(1, `{}`), ErrSchema},
		{[]byte{0, 0}, ErrTruncated},
	} {
		if err := d.Decode(tc.rec, out); !errors.Is(err, tc.want) {
			t.Errorf("%q: err = %v, want %v", tc.rec, err, tc.want)
		}
	}
}
