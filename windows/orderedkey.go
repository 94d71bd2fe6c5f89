package windows

import (
	"encoding/binary"
	"math"

	"github.com/eddyhq/eddy/value"
)

// appendOrdered appends an encoding of v whose byte order agrees with
// value.Compare: a tag per kind rank, then for numbers the float's order
// bits followed by the exact integer (ints above 2⁵³ that round to the same
// float stay apart), for booleans and times the integer with its sign bit
// flipped, and for strings the bytes with 0x00 escaped as 0x00 0xFF and a
// 0x00 0x01 terminator. Each value is self-delimiting, so a tuple of
// values (a key) sorts by its first value, then its second, and so on.
// Numbers that are equal (1 and 1.0) encode the same, as in appendKey,
// so the encoding also identifies a key.
func appendOrdered(b []byte, v value.Value) []byte {
	switch v.K {
	case value.Null:
		return append(b, byte(rank(value.Null)))
	case value.Int, value.Float:
		b = append(b, byte(rank(value.Int)))
		if v.K == value.Float {
			if math.IsNaN(v.F) {
				return append(b, 0) // NaN sorts first among numbers
			}
			if v.F == math.Trunc(v.F) && math.Abs(v.F) < 1<<62 {
				v = value.OfInt(int64(v.F))
			}
		}
		b = append(b, 1)
		if v.K == value.Float {
			b = binary.BigEndian.AppendUint64(b, floatOrder(v.F))
			return append(b, 0) // no exact integer: sorts before ints of the same float
		}
		b = binary.BigEndian.AppendUint64(b, floatOrder(float64(v.I)))
		b = append(b, 1)
		return binary.BigEndian.AppendUint64(b, uint64(v.I)^1<<63)
	case value.Bool, value.Time:
		b = append(b, byte(rank(v.K)))
		return binary.BigEndian.AppendUint64(b, uint64(v.I)^1<<63)
	}
	b = append(b, byte(rank(v.K)))
	for i := 0; i < len(v.S); i++ {
		if c := v.S[i]; c == 0 {
			b = append(b, 0, 0xFF)
		} else {
			b = append(b, c)
		}
	}
	return append(b, 0, 1)
}

// rank mirrors value.Compare's order of kinds (ints and floats together).
func rank(k value.Kind) int {
	if k == value.Float {
		return int(value.Int)
	}
	return int(k)
}

// floatOrder maps a float to bits that sort as the floats do (-0 as 0).
func floatOrder(f float64) uint64 {
	if f == 0 {
		f = 0
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		return ^u
	}
	return u | 1<<63
}

// appendOrderedKey appends the ordered encoding of the key fields of row.
func appendOrderedKey(b []byte, row []value.Value, slots []int) []byte {
	for _, k := range slots {
		b = appendOrdered(b, row[k])
	}
	return b
}
