// Package lint holds tests that check the shape of the code base rather
// than its behaviour: layering_test.go fails when an import breaks the
// package rules written in docs/design.md.
package lint
