package duck

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/eddyhq/eddy/value"
)

// colType is a column type in the lattice eddy writes (see docs/export.md):
//
//	BIGINT → DOUBLE → VARCHAR ← TIMESTAMP      BOOLEAN      JSON
//
// A column only ever widens along an arrow; BOOLEAN and JSON columns take
// only their own values. INTEGER is the _partition coordinate; other is any
// type an existing table may have that eddy does not write.
type colType uint8

const (
	tNone colType = iota // not in the table yet (only nulls seen)
	tBigint
	tDouble
	tVarchar
	tBoolean
	tTimestamp
	tJSON
	tInteger
	tOther
	// tDeclared is a type the record's schema declares (DECIMAL, STRUCT,
	// LIST, MAP; see Table.SetDeclared), in column.other: its values go in
	// as text (JSON for the nested ones) that DuckDB casts.
	tDeclared
)

var typeNames = [...]string{"(none)", "BIGINT", "DOUBLE", "VARCHAR", "BOOLEAN", "TIMESTAMP", "JSON", "INTEGER", "(other)", "(declared)"}

func (t colType) String() string { return typeNames[t] }

// parseType maps a DuckDB type name from the catalog to the lattice.
func parseType(sqlType string) colType {
	for t := tBigint; t <= tInteger; t++ {
		if strings.EqualFold(sqlType, typeNames[t]) {
			return t
		}
	}
	return tOther
}

// kindType is the column type a value kind asks for by itself.
var kindType = [...]colType{
	value.Null:   tNone,
	value.Bool:   tBoolean,
	value.Int:    tBigint,
	value.Float:  tDouble,
	value.Time:   tTimestamp,
	value.String: tVarchar,
	value.JSON:   tJSON,
}

// join returns the narrowest type that holds values of both a and b, and
// false when there is none.
func join(a, b colType) (colType, bool) {
	switch {
	case a == b:
		return a, true
	case a == tNone:
		return b, true
	case b == tNone:
		return a, true
	}
	rank := func(t colType) int {
		switch t {
		case tBigint:
			return 1
		case tDouble:
			return 2
		case tTimestamp:
			return 3
		case tVarchar:
			return 4
		}
		return 0
	}
	ra, rb := rank(a), rank(b)
	if ra == 0 || rb == 0 {
		return tNone, false
	}
	if ra <= 2 && rb <= 2 {
		return tDouble, true // BIGINT and DOUBLE
	}
	return tVarchar, true // anything else on the chain meets at VARCHAR
}

// widenUsing is the USING expression of an ALTER COLUMN ... TYPE from one
// type to another, so that values already in the table read as eddy would
// have written them; "" when a plain cast does.
func widenUsing(col string, from, to colType) string {
	if to != tVarchar {
		return ""
	}
	switch from {
	case tTimestamp:
		return fmt.Sprintf("strftime(%s, '%%Y-%%m-%%dT%%H:%%M:%%S.%%gZ')", col)
	case tDouble:
		// integral values without ".0" (exact below 2^53), exponents
		// without leading zeros, as value.AppendFloat writes them
		return fmt.Sprintf("CASE WHEN %[1]s = trunc(%[1]s) AND abs(%[1]s) < 9007199254740992 THEN CAST(CAST(%[1]s AS BIGINT) AS VARCHAR) "+
			"ELSE regexp_replace(CAST(%[1]s AS VARCHAR), 'e-0+([0-9])', 'e-\\1') END", col)
	}
	return ""
}

// text is a value as a VARCHAR: strings as they are, JSON as its text, the
// rest as eddy writes them in JSON output.
func text(v value.Value) string {
	switch v.K {
	case value.String, value.JSON:
		return v.S
	case value.Int:
		return strconv.FormatInt(v.I, 10)
	case value.Float:
		return string(value.AppendFloat(nil, v.F))
	case value.Time:
		return value.FormatTime(v.I)
	case value.Bool:
		return strconv.FormatBool(v.I != 0)
	}
	return ""
}

// quoteIdent quotes a DuckDB identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a DuckDB string literal.
func quoteString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
