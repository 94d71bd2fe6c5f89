package pipeline

import (
	"fmt"
	"strings"
)

// reference is the Markdown reference of the kinds serving any role in r:
// for each, a heading, its doc paragraph and a table of its fields. The
// regions of docs/pipeline.md between generated markers hold it (see
// TestReferenceDocs; `go generate ./pipeline` rewrites them).
func reference(r Role) string {
	var b strings.Builder
	for i, k := range Kinds(r) {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "#### %s kind `%s`\n\n", roleTitle(k.Role), k.Name)
		b.WriteString(k.Doc + "\n\n")
		b.WriteString("| key | type | default | required | meaning |\n|---|---|---|---|---|\n")
		var rows func(prefix string, fs []Field)
		rows = func(prefix string, fs []Field) {
			for _, f := range fs {
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", prefix+f.Name, f.Type, defaultDoc(f), required(k, f), meaning(k, f))
				if f.Type == MappingValue {
					rows(prefix+f.Name+".", f.Sub)
				}
			}
		}
		rows("", k.FieldsFor(k.Role))
	}
	return b.String()
}

func roleTitle(r Role) string {
	switch r {
	case AsSource:
		return "Source"
	case AsSink:
		return "Sink"
	case AsDeadLetter:
		return "Dead-letter"
	}
	return "Sink and dead-letter"
}

func defaultDoc(f Field) string {
	switch {
	case f.Default != "":
		return "`" + f.Default + "`"
	case f.DefaultDoc != "":
		return f.DefaultDoc
	}
	return "none"
}

// required is the reference's required column: the value of a scalar
// kind is the entry itself.
func required(k *Kind, f Field) string {
	switch {
	case k.Value != nil:
		return "yes"
	case f.Required && f.Plural != "":
		return "yes, or `" + f.Plural + "`"
	case f.Required:
		return "yes"
	}
	return "no"
}

func meaning(k *Kind, f Field) string {
	m := f.Doc
	if len(f.Values) > 0 {
		vs := make([]string, len(f.Values))
		for i, v := range f.Values {
			vs[i] = "`" + v + "`"
		}
		m += "; one of " + strings.Join(vs, ", ")
	}
	if f.Roles != 0 && f.Roles != k.Role {
		m += " (" + strings.ToLower(roleTitle(f.Roles)) + "s only)"
	}
	return m
}
