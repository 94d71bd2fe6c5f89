package pipeline

import (
	"strings"
	"testing"
)

// TestKindValidate checks that a declaration that does not match its
// config struct is refused when it registers.
func TestKindValidate(t *testing.T) {
	duck := func(f Field) *Kind {
		return &Kind{Name: "x", Role: AsSink, Fields: []Field{f},
			bind: configIn(func(t *Target) **DuckDBTarget { return &t.DuckDB })}
	}
	tests := []struct {
		name string
		kind *Kind
		want string // "" when valid
	}{
		{"valid", duck(Field{Name: "batch_rows", Type: CountValue}), ""},
		{"no such field", duck(Field{Name: "rows", Type: CountValue}), "has no field Rows"},
		{"wrong type", duck(Field{Name: "table", Type: ListValue}), "has no field Table of type []string"},
		{"values on a count", duck(Field{Name: "batch_rows", Type: CountValue, Values: []string{"1"}}), "strings only"},
		{"default not allowed", duck(Field{Name: "mode", Type: StringValue, Default: "upsert", Values: []string{"append"}}), "not an allowed value"},
		{"scalar of the wrong type", &Kind{Name: "x", Role: AsSink, Value: &Field{Name: "x", Type: CountValue},
			bind: valueIn(func(t *Target) *string { return &t.File })}, "value binds to string"},
		{"no binding", &Kind{Name: "x", Role: AsSink}, "no binding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.kind.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("validate = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
