package pipeline

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated regions of docs/pipeline.md")

const referencePage = "../docs/pipeline.md"

// TestReferenceDocs fails when the kind tables in docs/pipeline.md differ
// from what the registry generates; -update rewrites them.
func TestReferenceDocs(t *testing.T) {
	old, err := os.ReadFile(referencePage)
	if err != nil {
		t.Fatal(err)
	}
	doc := old
	for _, region := range []struct {
		name string
		role Role
	}{
		{"source kinds", AsSource},
		{"sink and dead-letter kinds", AsSink | AsDeadLetter},
	} {
		doc, err = replaceRegion(doc, region.name, reference(region.role))
		if err != nil {
			t.Fatal(err)
		}
	}
	if bytes.Equal(doc, old) {
		return
	}
	if *update {
		if err := os.WriteFile(referencePage, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/pipeline.md differs from the kinds declared in pipeline/kind_*.go; regenerate it with\n\tgo generate ./pipeline\n(or go test ./pipeline -run TestReferenceDocs -update) and commit the result")
}

// replaceRegion puts body between the begin and end markers of the named
// region of doc.
func replaceRegion(doc []byte, name, body string) ([]byte, error) {
	begin := fmt.Appendf(nil, "<!-- BEGIN GENERATED %s: go generate ./pipeline rewrites this region from pipeline/kind_*.go -->\n", name)
	end := fmt.Appendf(nil, "<!-- END GENERATED %s -->\n", name)
	i := bytes.Index(doc, begin)
	j := bytes.Index(doc, end)
	if i < 0 || j < i {
		return nil, fmt.Errorf("%s: no region %q: want a line %q and, after it, a line %q", referencePage, name, bytes.TrimSpace(begin), bytes.TrimSpace(end))
	}
	var out []byte
	out = append(out, doc[:i+len(begin)]...)
	out = append(out, "\n"+body+"\n"...)
	return append(out, doc[j:]...), nil
}

func TestReplaceRegion(t *testing.T) {
	begin := "<!-- BEGIN GENERATED x: go generate ./pipeline rewrites this region from pipeline/kind_*.go -->\n"
	end := "<!-- END GENERATED x -->\n"
	got, err := replaceRegion([]byte("a\n"+begin+"old\n"+end+"b\n"), "x", "new\n")
	if want := "a\n" + begin + "\nnew\n\n" + end + "b\n"; err != nil || string(got) != want {
		t.Errorf("replaceRegion = %q, %v; want %q", got, err, want)
	}
	if _, err := replaceRegion([]byte(end+begin), "x", "new\n"); err == nil {
		t.Error("replaceRegion accepted an end marker before the begin marker")
	}
	if _, err := replaceRegion([]byte("a\n"), "x", "new\n"); err == nil {
		t.Error("replaceRegion accepted a page without the region")
	}
}
