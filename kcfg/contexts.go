package kcfg

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Contexts are named clusters from eddy's config file
// (~/.config/eddy/config.yaml), as kubectl keeps them:
//
//	current: prod
//	contexts:
//	  local:
//	    brokers: localhost:9092
//	  prod:
//	    brokers: [b1:9093, b2:9093]
//	    kafka_config: ~/prod.properties   # a client.properties file
//	    properties:                       # any key -X takes
//	      security.protocol: SASL_SSL
//	      sasl.mechanism: SCRAM-SHA-512
//	    registry: https://sr.prod:8081    # schema.registry.url
type Contexts struct {
	File    string
	Current string // the file's current:, "" when none
	Names   []string
	byName  map[string]*Context
}

// Context is one named cluster.
type Context struct {
	Name       string
	Brokers    []string
	KafkaFile  string            // kafka_config, with ~ expanded and relative to the config file
	Properties map[string]string // properties:, then registry: as schema.registry.url
}

// DefaultContextsPath is $EDDY_CONFIG, else config.yaml in eddy's
// directory under the user's config directory ($XDG_CONFIG_HOME or
// ~/.config).
func DefaultContextsPath(getenv func(string) string) string {
	if p := getenv("EDDY_CONFIG"); p != "" {
		return p
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "eddy", "config.yaml")
}

// LoadContexts reads the config file at path; a missing file is no
// contexts (nil, nil). Errors name the file, line and field.
func LoadContexts(path string) (*Contexts, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cs := &Contexts{File: path, byName: map[string]*Context{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return cs, nil
	}
	errf := func(n *yaml.Node, field, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s: %s", path, n.Line, field, fmt.Sprintf(format, args...))
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, errf(top, "config", "must be a mapping with current: and contexts:")
	}
	var currentNode *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "current":
			if v.Kind != yaml.ScalarNode {
				return nil, errf(v, "current", "must be a context name")
			}
			cs.Current, currentNode = v.Value, v
		case "contexts":
			if v.Kind != yaml.MappingNode {
				return nil, errf(v, "contexts", "must be a mapping of NAME: {brokers: …}")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				name, body := v.Content[j].Value, v.Content[j+1]
				c, err := parseContext(path, name, body, errf)
				if err != nil {
					return nil, err
				}
				if _, dup := cs.byName[name]; dup {
					return nil, errf(v.Content[j], "contexts."+name, "is defined twice")
				}
				cs.byName[name] = c
				cs.Names = append(cs.Names, name)
			}
		default:
			return nil, errf(k, k.Value, "unknown key (want current or contexts)")
		}
	}
	if cs.Current != "" && cs.byName[cs.Current] == nil {
		return nil, errf(currentNode, "current", "names no context (%s)", cs.known())
	}
	return cs, nil
}

func parseContext(path, name string, n *yaml.Node, errf func(*yaml.Node, string, string, ...any) error) (*Context, error) {
	field := "contexts." + name
	if n.Kind != yaml.MappingNode {
		return nil, errf(n, field, "must be a mapping (brokers, kafka_config, properties, registry)")
	}
	c := &Context{Name: name, Properties: map[string]string{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f := field + "." + k.Value
		switch k.Value {
		case "brokers":
			switch v.Kind {
			case yaml.ScalarNode:
				c.Brokers = splitList(v.Value)
			case yaml.SequenceNode:
				for _, b := range v.Content {
					c.Brokers = append(c.Brokers, splitList(b.Value)...)
				}
			}
			if len(c.Brokers) == 0 {
				return nil, errf(v, f, "must name at least one host:port")
			}
		case "kafka_config":
			p := v.Value
			if rest, ok := strings.CutPrefix(p, "~/"); ok {
				if home, err := os.UserHomeDir(); err == nil {
					p = filepath.Join(home, rest)
				}
			}
			if p != "" && !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(path), p)
			}
			if v.Kind != yaml.ScalarNode || p == "" {
				return nil, errf(v, f, "must be the path of a client.properties file")
			}
			c.KafkaFile = p
		case "properties":
			if v.Kind != yaml.MappingNode {
				return nil, errf(v, f, "must be a mapping of client property: value")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				pk, pv := v.Content[j], v.Content[j+1]
				if err := New().Set(pk.Value, pv.Value); err != nil {
					return nil, errf(pk, f+"."+pk.Value, "%v", err)
				}
				c.Properties[pk.Value] = pv.Value
			}
		case "registry":
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return nil, errf(v, f, "must be the schema registry's URL")
			}
			c.Properties["schema.registry.url"] = v.Value
		default:
			return nil, errf(k, f, "unknown key (want brokers, kafka_config, properties or registry)")
		}
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (cs *Contexts) known() string {
	if len(cs.Names) == 0 {
		return "the file defines none"
	}
	return "defined: " + strings.Join(slices.Sorted(slices.Values(cs.Names)), ", ")
}

// Select returns the context named name, else the file's current one; nil
// when neither names one. A name the file does not define is an error.
func (cs *Contexts) Select(name string) (*Context, error) {
	if cs == nil {
		if name != "" {
			return nil, fmt.Errorf("context %q: there is no config file with contexts (see docs/kafka.md)", name)
		}
		return nil, nil
	}
	if name == "" {
		name = cs.Current
	}
	if name == "" {
		return nil, nil
	}
	c, ok := cs.byName[name]
	if !ok {
		return nil, fmt.Errorf("context %q is not in %s (%s)", name, cs.File, cs.known())
	}
	return c, nil
}

// Config returns the context's settings as a Config: its properties file
// first, then its properties, then its brokers.
func (c *Context) Config() (*Config, error) {
	cfg := New()
	if c.KafkaFile != "" {
		if err := cfg.LoadProperties(c.KafkaFile); err != nil {
			return nil, fmt.Errorf("context %s: %w", c.Name, err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Properties)) {
		if err := cfg.Set(k, c.Properties[k]); err != nil {
			return nil, fmt.Errorf("context %s: %w", c.Name, err)
		}
	}
	if len(c.Brokers) > 0 {
		_ = cfg.Set("bootstrap.servers", strings.Join(c.Brokers, ","))
	}
	return cfg, nil
}
