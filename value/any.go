package value

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// FromAny converts what an expression returned into a Value.
func FromAny(x any) (Value, error) {
	switch v := x.(type) {
	case nil:
		return Value{}, nil
	case bool:
		return OfBool(v), nil
	case int:
		return OfInt(int64(v)), nil
	case int64:
		return OfInt(v), nil
	case int32:
		return OfInt(int64(v)), nil
	case int16:
		return OfInt(int64(v)), nil
	case int8:
		return OfInt(int64(v)), nil
	case uint:
		if uint64(v) > math.MaxInt64 {
			return OfFloat(float64(v)), nil
		}
		return OfInt(int64(v)), nil
	case uint64:
		if v > math.MaxInt64 {
			return OfFloat(float64(v)), nil
		}
		return OfInt(int64(v)), nil
	case uint32:
		return OfInt(int64(v)), nil
	case uint16:
		return OfInt(int64(v)), nil
	case uint8:
		return OfInt(int64(v)), nil
	case float64:
		return OfFloat(v), nil
	case float32:
		return OfFloat(float64(v)), nil
	case string:
		return OfString(v), nil
	case time.Time:
		return OfTime(v.UnixMilli()), nil
	case time.Duration:
		return OfInt(v.Milliseconds()), nil
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err != nil {
			return Value{}, err
		}
		return OfJSON(string(b)), nil
	}
	b, err := json.Marshal(x)
	if err != nil {
		return Value{}, fmt.Errorf("unsupported result type %T", x)
	}
	return OfJSON(string(b)), nil
}
