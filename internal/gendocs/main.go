// Command gendocs writes eddy's man pages and shell completions into a
// directory, for the release archives (.goreleaser.yaml runs it before
// building):
//
//	go run ./internal/gendocs DIR
//
// DIR/man/eddy*.1 come from the cobra command tree, DIR/completions/
// holds eddy.bash, eddy.zsh, eddy.fish and eddy.ps1.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra/doc"

	"github.com/eddyhq/eddy/cmd"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/gendocs DIR")
		os.Exit(2)
	}
	if err := generate(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func generate(dir string) error {
	man, comp := filepath.Join(dir, "man"), filepath.Join(dir, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	root := cmd.NewRoot()
	root.DisableAutoGenTag = true // reproducible pages: no generation date
	if err := doc.GenManTree(root, &doc.GenManHeader{Title: "EDDY", Section: "1", Source: "eddy"}, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	for name, gen := range map[string]func(string) error{
		"eddy.bash": func(p string) error { return root.GenBashCompletionFileV2(p, true) },
		"eddy.zsh":  root.GenZshCompletionFile,
		"eddy.fish": func(p string) error { return root.GenFishCompletionFile(p, true) },
		"eddy.ps1":  root.GenPowerShellCompletionFileWithDesc,
	} {
		if err := gen(filepath.Join(comp, name)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
