// Package pipeline is eddy's pipeline spec: the YAML format, its parsing
// with file, line and field path in every error, validation, and compilation
// of expressions and field references into a [Plan] the engine executes.
//
// It is the one contract shared by `eddy run`, the workbench and SQL export.
// Parsing goes through yaml.Node so that errors point at the line that is
// wrong: `p.yaml:8: stages[0].window.hopping.slide: must be > 0`.
//
// The kinds a source, sink or dlq entry can name (file, kafka, duckdb,
// parquet) are each declared in a kind_NAME.go file as a [Kind] with its
// fields, defaults and doc; the parser, [Format], [Load], the workbench and
// the reference tables in docs/pipeline.md (go generate) read them from
// the registry ([Kinds], [LookupKind]).
package pipeline

//go:generate go test -run ^TestReferenceDocs$ -update .
