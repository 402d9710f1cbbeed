package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// lookupFunc reads an environment variable (os.LookupEnv in production).
type lookupFunc func(name string) (value string, ok bool)

// expandTree expands ${VAR} references in every scalar value of the tree (never in keys),
// records the line of every path into lines, and returns one problem per variable that cannot
// be expanded. It works on parsed nodes, not on the raw text, so a value holding ": " or " #"
// stays one scalar and cannot change the document's structure.
func expandTree(root *yaml.Node, lookup lookupFunc, lines map[string]int) []problem {
	var probs []problem
	walkValues(root, "", func(path string, line int, v *yaml.Node) {
		if _, ok := lines[path]; !ok {
			lines[path] = line
		}
		if v.Kind == yaml.ScalarNode {
			probs = append(probs, expandScalar(v, path, lookup)...)
		}
	})
	return probs
}

// walkValues calls fn for every mapping value and sequence item under n, with its YAML path
// and line (a mapping value's line is its key's). Aliases are not followed: their target is
// visited where it is defined, and expanding it twice would turn an escaped "$${" into a live
// reference.
func walkValues(n *yaml.Node, path string, fn func(path string, line int, v *yaml.Node)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkValues(c, path, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if isMergeKey(k) {
				continue
			}
			p := joinKey(path, k.Value)
			fn(p, k.Line, v)
			walkValues(v, p, fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			fn(p, c.Line, c)
			walkValues(c, p, fn)
		}
	}
}

func expandScalar(n *yaml.Node, path string, lookup lookupFunc) []problem {
	if !strings.Contains(n.Value, "${") {
		return nil
	}
	v, errs := expandEnv(n.Value, lookup)
	var probs []problem
	for _, msg := range errs {
		probs = append(probs, problem{path: path, msg: msg, line: n.Line})
	}
	if len(errs) > 0 {
		// Leave a null behind so the same key does not also fail its type check.
		v = ""
	}
	n.Value = v
	if n.Style == 0 {
		// A plain scalar is typed by its expanded text: max_in_flight: ${N:-64} is an integer.
		// Quoted scalars stay strings.
		n.Tag = ""
	}
	return probs
}

// expandEnv replaces ${VAR} and ${VAR:-default} in s; "$${" is a literal "${". As in the
// shell, the default applies when VAR is unset or empty; an unset VAR without a default is an
// error. A default cannot contain "}".
func expandEnv(s string, lookup lookupFunc) (string, []string) {
	var (
		b    strings.Builder
		errs []string
	)
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			errs = append(errs, fmt.Sprintf("unterminated ${ in %q (write $${ for a literal ${)", s))
			break
		}
		expr := s[i+2 : i+2+end]
		i += 2 + end + 1
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			errs = append(errs, fmt.Sprintf("invalid environment variable reference ${%s} (use ${NAME} or ${NAME:-default})", expr))
			continue
		}
		val, ok := lookup(name)
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			errs = append(errs, fmt.Sprintf("environment variable %s is not set", name))
		}
		b.WriteString(val)
	}
	return b.String(), errs
}

func validEnvName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isNameChar(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' }
