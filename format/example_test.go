package format_test

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/value"
)

// The engine would make the decoder from the plan's input paths and time
// slot, next to decode.NewPlan, and send a Fatal error to the run instead
// of the dead letters.
func ExampleNewAvro() {
	reg := &format.Static{IDs: map[int]sr.Schema{1: {Schema: `{"type":"record","name":"Bid","fields":[
		{"name":"auction","type":"long"},
		{"name":"price","type":"long"},
		{"name":"dateTime","type":{"type":"long","logicalType":"timestamp-millis"}}]}`}}}
	cache := format.NewCache(context.Background(), reg, format.CacheOptions{})
	dec := format.NewAvro(cache, [][]string{{"auction"}, {"price"}, {"dateTime"}}).WithTime(2)

	// 0x00, schema id 1, then auction 1007, price 4521, dateTime 1767225610000 as zigzag varints
	rec := []byte{0, 0, 0, 0, 1, 0xde, 0x0f, 0xd2, 0x46, 0xa0, 0xbc, 0xd6, 0xed, 0xee, 0x66}
	row := make([]value.Value, 3)
	if err := dec.Decode(rec, row); err != nil {
		fmt.Println(err, format.Fatal(err))
		return
	}
	fmt.Println(row[0].I, row[1].I, value.FormatTime(row[2].I))

	err := dec.Decode([]byte(`{"auction":1}`), row)
	fmt.Println(err, format.Fatal(err))
	// Output:
	// 1007 4521 2026-01-01T00:00:10.000Z
	// wrong magic byte: 0x7b, want 0x00: the record is not framed for a schema registry false
}
