package lint

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/eddyhq/eddy/"

// pkg is what `go list -deps -json` says about one package (test imports
// are not included: tests may use kfake and friends).
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
}

// rule forbids the packages under from to reach (directly or through other
// packages) any package for which bad returns true.
type rule struct {
	name string
	from []string
	bad  func(p pkg) bool
}

func project(names ...string) func(pkg) bool {
	return func(p pkg) bool {
		for _, n := range names {
			if p.ImportPath == mod+n || strings.HasPrefix(p.ImportPath, mod+n+"/") {
				return true
			}
		}
		return false
	}
}

var rules = []rule{
	{"windows imports the standard library and value only", []string{"windows"},
		func(p pkg) bool { return !p.Standard && !project("windows", "value")(p) }},
	{"engine imports neither cmd, tui nor job", []string{"engine"}, project("cmd", "tui", "job")},
	{"sources and sinks never import the engine or the job", []string{"source", "sink", "duck"}, project("engine", "job")},
	{"tui never imports cmd", []string{"tui"}, project("cmd")},
	{"startpos imports the standard library only", []string{"startpos"}, func(p pkg) bool { return !p.Standard && !project("startpos")(p) }},
	{"job imports neither cmd nor tui", []string{"job"}, project("cmd", "tui")},
	{"serve imports neither the engine, the job, cmd nor tui", []string{"serve"}, project("engine", "job", "cmd", "tui")},
	{"decode, value and pipeline import no I/O package of the project", []string{"decode", "value", "pipeline"},
		project("source", "sink", "duck", "state", "kcfg", "replay", "demo", "engine", "tui", "cmd")},
	{"format imports decode and value only of the project", []string{"format"},
		func(p pkg) bool {
			return strings.HasPrefix(p.ImportPath, mod) && !project("format", "decode", "value")(p)
		}},
}

// known lists violations that exist today, each with the issue that removes
// it, as "rule name: offending import". An entry that no longer matches
// fails the test, so it is deleted when its issue is done.
var known = map[string]string{}

func TestLayering(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	if _, ok := pkgs[mod+"windows"]; !ok {
		t.Fatalf("go list did not list %swindows: run from the module", mod)
	}
	seen := map[string]bool{}
	for _, r := range rules {
		for path, p := range pkgs {
			if !project(r.from...)(p) {
				continue
			}
			for _, chain := range violations(pkgs, path, r.bad) {
				bad := chain[len(chain)-1]
				id := r.name + ": " + bad
				if _, ok := known[id]; ok {
					seen[id] = true
					continue
				}
				t.Errorf("%s, but %s", r.name, strings.Join(chain, " -> "))
			}
		}
	}
	for id, why := range known {
		if !seen[id] {
			t.Errorf("allow-list entry %q (%s) matches no import any more: delete it", id, why)
		}
	}
}

// violations returns, for each forbidden package reachable from start, the
// shortest import chain to it (breadth first, not walking past a forbidden
// package).
func violations(pkgs map[string]pkg, start string, bad func(pkg) bool) [][]string {
	prev := map[string]string{start: ""}
	queue := []string{start}
	var out [][]string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, imp := range pkgs[cur].Imports {
			if _, ok := prev[imp]; ok || imp == "C" {
				continue
			}
			prev[imp] = cur
			if bad(pkgs[imp]) {
				chain := []string{imp}
				for c := cur; c != ""; c = prev[c] {
					chain = append([]string{c}, chain...)
				}
				out = append(out, chain)
				continue
			}
			queue = append(queue, imp)
		}
	}
	return out
}
