package pipeline

func init() {
	register(&Kind{
		Name: "file", Role: AsSource, Order: 10,
		Doc: "Reads JSON Lines from a file, or from stdin when the path is `-` (quote it: a bare `-` starts a YAML list).",
		Value: &Field{Name: "file", Type: StringValue, Path: true,
			Doc: "the input file, relative to the spec's directory; `-` is stdin"},
		bind: valueIn(func(s *Source) *string { return &s.File }),
	})
	register(&Kind{
		Name: "file", Role: AsSink | AsDeadLetter, Order: 10,
		Doc: "Writes one JSON object per line to a file, created or truncated (its directory must exist), or to stdout when the path is `-`.",
		Value: &Field{Name: "file", Type: StringValue, Path: true, Check: checkOutputFile,
			Doc: "the output file, relative to the spec's directory; `-` is stdout"},
		bind: valueIn(func(t *Target) *string { return &t.File }),
	})
}

func checkOutputFile(s string) error {
	if s == "" {
		return errString(`must not be empty (use "-" for stdout)`)
	}
	return nil
}

// errString is an error that is its message.
type errString string

func (e errString) Error() string { return string(e) }
