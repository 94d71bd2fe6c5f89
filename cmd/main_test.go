package cmd

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain keeps a developer's own eddy config file (named cluster
// contexts) out of the tests: they must never connect to a cluster it
// names.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eddy-cmd-test")
	if err != nil {
		panic(err)
	}
	os.Setenv("EDDY_CONFIG", filepath.Join(dir, "no-config.yaml"))
	os.Unsetenv("EDDY_CONTEXT")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
