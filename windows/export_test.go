package windows

// Test helpers for the external tests (package windows_test), which run
// the operator over the Pebble store: that package imports windows, so
// the tests that use it cannot live in package windows.

type Ev = ev

var (
	WideStream      = wideStream
	RowOf           = rowOf
	FmtRow          = fmtRow
	FirstDiff       = firstDiff
	AllAggs         = allAggs
	FeedSessionKeys = feedSessionKeys
)

// Specs returns the window shapes the snapshot and store tests run.
func Specs() []struct {
	Name     string
	Spec     Spec
	Lateness int64
} {
	out := make([]struct {
		Name     string
		Spec     Spec
		Lateness int64
	}, len(testSpecs))
	for i, s := range testSpecs {
		out[i].Name, out[i].Spec, out[i].Lateness = s.name, s.spec, s.lateness
	}
	return out
}

// EvTime is an event's time.
func EvTime(e ev) int64 { return e.ts }
