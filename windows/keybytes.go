package windows

import "github.com/eddyhq/eddy/value"

// AppendKey appends the operator's encoding of the key in row's slots: the
// same bytes for keys the operator treats as one (1 and 1.0), and a byte
// order that is the order in which a firing emits keys. The engine's
// workers route records by a hash of it and merge the rows their
// operators fire by it.
func AppendKey(b []byte, row []value.Value, slots []int) []byte {
	return appendOrderedKey(b, row, slots)
}
