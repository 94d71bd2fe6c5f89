package format

import "encoding/binary"

// Magic is the first byte of a Confluent-framed record.
const Magic = 0

// HeaderLen is the length of the framing before the payload (or, for
// Protobuf, before the message indexes): the magic byte and a 4-byte
// big-endian schema id.
const HeaderLen = 5

// maxIndexes bounds the message-index list of a Protobuf record: nesting
// deeper than this is hostile, not a schema.
const maxIndexes = 64

// SchemaID reads the framing of b: the magic byte and the schema id. It
// returns the id and the bytes after the framing.
func SchemaID(b []byte) (id int, payload []byte, err error) {
	if len(b) == 0 {
		return -1, nil, recordErr(ErrTruncated, -1, "empty record")
	}
	if b[0] != Magic {
		return -1, nil, recordErr(ErrMagic, -1, "0x%02x, want 0x00: the record is not framed for a schema registry", b[0])
	}
	if len(b) < HeaderLen {
		return -1, nil, recordErr(ErrTruncated, -1, "%d bytes, the framing needs %d", len(b), HeaderLen)
	}
	return int(binary.BigEndian.Uint32(b[1:HeaderLen])), b[HeaderLen:], nil
}

// MessageIndexes reads the Protobuf message indexes that follow the schema
// id: a zigzag varint count, then that many zigzag varints, each the
// position of a message among its parent's (the file's top-level messages,
// then nested ones). A count of 0 is the shorthand for [0], the first
// message. The indexes are appended to idx[:0], which is returned, so a
// caller that keeps idx allocates nothing. The count is checked against the
// bytes left before anything is allocated.
func MessageIndexes(b []byte, id int, idx []int) ([]int, []byte, error) {
	n, k := binary.Varint(b)
	if k <= 0 {
		return idx, nil, varintErr(k, id, "the message-index count")
	}
	b = b[k:]
	idx = idx[:0]
	if n == 0 {
		return append(idx, 0), b, nil
	}
	// each index takes at least one byte
	if n < 0 || n > int64(len(b)) || n > maxIndexes {
		return idx, nil, recordErr(ErrCorrupt, id, "message-index count %d with %d bytes left", n, len(b))
	}
	for range n {
		v, k := binary.Varint(b)
		if k <= 0 {
			return idx, nil, varintErr(k, id, "a message index")
		}
		if v < 0 || v > 1<<20 {
			return idx, nil, recordErr(ErrCorrupt, id, "message index %d", v)
		}
		idx = append(idx, int(v))
		b = b[k:]
	}
	return idx, b, nil
}

// varintErr is the error for binary.Varint's n <= 0: cut off (0) or longer
// than 64 bits (< 0).
func varintErr(k, id int, what string) error {
	if k == 0 {
		return recordErr(ErrTruncated, id, "%s is cut off", what)
	}
	return recordErr(ErrCorrupt, id, "%s overflows 64 bits", what)
}
