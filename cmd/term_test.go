package cmd

import (
	"bytes"
	"os"
	"testing"
)

// /dev/null is a character device but not a terminal: `eddy demo >
// /dev/null` must take the headless path, and progress lines stay off.
func TestIsTerminalDevNull(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no %s: %v", os.DevNull, err)
	}
	defer f.Close()
	for _, tc := range []struct {
		name string
		got  bool
	}{
		{"isTerminal(/dev/null)", isTerminal(f)},
		{"isTerminal(buffer)", isTerminal(&bytes.Buffer{})},
		{"progress bar on /dev/null", newProgressBar(f).on},
		{"export progress on /dev/null", newProgress(f, 0).w != nil},
	} {
		if tc.got {
			t.Errorf("%s = true, want false", tc.name)
		}
	}
}
