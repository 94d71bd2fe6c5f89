package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/cmd"
)

// TestGenerate: a man page for every command a user can run, and the four
// completion scripts, each naming eddy.
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		n++
		page := filepath.Join(dir, "man", strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		b, err := os.ReadFile(page)
		if err != nil || !strings.Contains(string(b), ".TH \"EDDY\" \"1\"") {
			t.Errorf("%s: no man page (%v)", c.CommandPath(), err)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cmd.NewRoot())
	if n < 20 {
		t.Errorf("only %d commands walked", n)
	}
	for _, f := range []string{"eddy.bash", "eddy.zsh", "eddy.fish", "eddy.ps1"} {
		if b, err := os.ReadFile(filepath.Join(dir, "completions", f)); err != nil || !strings.Contains(string(b), "eddy") {
			t.Errorf("completion %s: %v", f, err)
		}
	}
}
