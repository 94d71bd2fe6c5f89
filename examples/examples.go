// Package examples embeds the example pipelines so the demo can run them
// and tests can check that every example parses.
package examples

import "embed"

// FS holds every example pipeline (*.yaml).
//
//go:embed *.yaml
var FS embed.FS

// Nexmark holds the Nexmark queries eddy runs (nexmark/qN.yaml), for
// eddy bench nexmark; see docs/nexmark.md.
//
//go:embed nexmark/*.yaml
var Nexmark embed.FS
