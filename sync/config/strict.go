package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// checker walks a yaml.Node tree against a Go type through its yaml tags, and reports unknown
// keys, duplicate keys and values of the wrong type, each with its YAML path. It is what makes
// errors readable; decodeStrict (KnownFields) stays behind it as a backstop.
type checker struct {
	probs []problem
	// covers are paths whose later validation messages would only repeat a reported
	// problem: the misspelled key's intended name, the value that failed to decode.
	covers []string
}

func (c *checker) report(path string, line int, format string, args ...any) {
	c.probs = append(c.probs, problem{path: path, line: line, msg: fmt.Sprintf(format, args...)})
	c.covers = append(c.covers, path)
}

// maxDepth bounds alias chains; real configs are a handful of levels deep.
const maxDepth = 64

func (c *checker) check(n *yaml.Node, t reflect.Type, path string, depth int) {
	if depth > maxDepth {
		c.report(path, n.Line, "nested too deeply (alias loop?)")
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		c.check(n.Alias, t, path, depth+1)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value leaves the zero value (and its default)
	}
	switch t.Kind() {
	case reflect.Pointer:
		c.check(n, t.Elem(), path, depth+1)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.report(path, n.Line, "expected a mapping (key: value lines), got %s", describe(n))
			return
		}
		c.checkStruct(n, t, path, map[string]int{}, depth)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.report(path, n.Line, "expected a mapping (key: value lines), got %s", describe(n))
			return
		}
		c.checkMap(n, t, path, depth)
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode {
			hint := `put "- " before each item, on its own line`
			if len(n.Value) <= 30 && !strings.ContainsAny(n.Value, ",\n[]{}") {
				hint = fmt.Sprintf("write [%s] for a list of one", n.Value)
			}
			c.report(path, n.Line, "expected a list, got %s (%s)", describe(n), hint)
			return
		}
		if n.Kind != yaml.SequenceNode {
			c.report(path, n.Line, "expected a list, got %s", describe(n))
			return
		}
		for i, item := range n.Content {
			c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	case reflect.Interface:
		// Anything goes.
	default:
		c.checkScalar(n, t, path)
	}
}

func (c *checker) checkStruct(n *yaml.Node, t reflect.Type, path string, seen map[string]int, depth int) {
	fields, names := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			c.checkMerge(v, t, path, seen, depth)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.report(cmp.Or(path, "(top level)"), k.Line, "keys must be plain names, got %s", describe(k))
			continue
		}
		p := joinKey(path, cmp.Or(k.Value, `""`)) // an empty key still gets a path to name
		if first, dup := seen[k.Value]; dup {
			c.report(p, k.Line, "duplicate key (first set on line %d)", first)
			i = dropPair(n, i)
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			c.unknownKey(p, path, k, names)
			continue
		}
		c.check(v, ft, p, depth+1)
	}
}

// checkMerge handles "<<: *anchor" (or a list of them): the merged keys belong to the
// mapping that merges them. Keys set next to the merge override it, as in yaml.v3.
func (c *checker) checkMerge(v *yaml.Node, t reflect.Type, path string, seen map[string]int, depth int) {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		// A merged mapping may set keys its user overrides: that is not a duplicate.
		c.checkStruct(v, t, path, map[string]int{}, depth+1)
	case yaml.SequenceNode:
		for _, m := range v.Content {
			c.checkMerge(m, t, path, seen, depth+1)
		}
	default:
		c.report(path, v.Line, "<< must merge a mapping, got %s", describe(v))
	}
}

// dropPair removes the key/value pair at i from a mapping and returns the index the caller's
// loop should continue from. A duplicate is reported, then dropped: yaml.v3 refuses to decode
// a mapping with a duplicate at all, which would leave every sibling empty and bury the one
// real problem under "required" messages.
func dropPair(n *yaml.Node, i int) int {
	n.Content = slices.Delete(n.Content, i, i+2)
	return i - 2
}

func (c *checker) unknownKey(p, parent string, k *yaml.Node, names []string) {
	if s := suggest(k.Value, names); s != "" {
		c.report(p, k.Line, "unknown key (did you mean %q?)", s)
		c.covers = append(c.covers, joinKey(parent, s))
		return
	}
	c.report(p, k.Line, "unknown key (valid keys: %s)", strings.Join(names, ", "))
}

func (c *checker) checkMap(n *yaml.Node, t reflect.Type, path string, depth int) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.report(cmp.Or(path, "(top level)"), k.Line, "keys must be plain names, got %s", describe(k))
			continue
		}
		p := joinKey(path, cmp.Or(k.Value, `""`)) // an empty key still gets a path to name
		if first, dup := seen[k.Value]; dup {
			c.report(p, k.Line, "duplicate key (first set on line %d)", first)
			i = dropPair(n, i)
			continue
		}
		seen[k.Value] = k.Line
		c.check(v, t.Elem(), p, depth+1)
	}
}

func (c *checker) checkScalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		c.report(path, n.Line, "expected %s, got %s", typeName(t), describe(n))
		return
	}
	tag := n.ShortTag()
	isInt := t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64 && t != durationType()
	// yaml.v3 truncates 1.5 into an int field; a config value like that is a typo.
	if isInt && tag == "!!float" {
		c.report(path, n.Line, "%q is not an integer", n.Value)
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err == nil {
		return
	}
	switch {
	case t == durationType():
		if tag == "!!int" || tag == "!!float" {
			c.report(path, n.Line, "%q is not a duration: add a unit (e.g. \"%ss\")", n.Value, n.Value)
		} else {
			c.report(path, n.Line, "%q is not a duration (e.g. \"5s\")", n.Value)
		}
	case isInt && tag == "!!str" && isIntegerText(n.Value):
		c.report(path, n.Line, "%q is quoted, so it is a string, not an integer (remove the quotes)", n.Value)
	case isInt && tag == "!!int" && t.Kind() >= reflect.Uint:
		c.report(path, n.Line, "%s is out of range (0 to %d)", n.Value, maxUint(t))
	case isInt && tag == "!!int":
		c.report(path, n.Line, "%s is out of range", n.Value)
	case isInt:
		c.report(path, n.Line, "%q is not an integer", n.Value)
	case t.Kind() == reflect.Bool:
		c.report(path, n.Line, "%q is not true or false", n.Value)
	default:
		c.report(path, n.Line, "%q is not %s", n.Value, typeName(t))
	}
}

func isIntegerText(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

func maxUint(t reflect.Type) uint64 {
	return 1<<(t.Bits()) - 1
}

func durationType() reflect.Type { return reflect.TypeFor[time.Duration]() }

func typeName(t reflect.Type) string {
	switch {
	case t == durationType():
		return `a duration (e.g. "5s")`
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	}
	return t.String()
}

// describe names a node's value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:37] + "..."
	}
	return strconv.Quote(v)
}

// yamlFields maps the yaml names of t's fields to their types; names keeps them in
// declaration order for messages.
func yamlFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := map[string]reflect.Type{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's rule for untagged fields
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

// suggest returns the candidate closest to key when it is close enough to be a typo.
func suggest(key string, candidates []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(s))
	}
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(norm(key), norm(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 1
	switch n := len(key); {
	case n >= 9:
		limit = 3
	case n >= 5:
		limit = 2
	}
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions, deletions,
// substitutions and transpositions of neighbours ("kye" for "key") each count 1.
func editDistance(a, b string) int {
	// Row i of the table lives in rows[i%3]; a transposition looks two rows back.
	var rows [3][]int
	for r := range rows {
		rows[r] = make([]int, len(b)+1)
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur, prev, prev2 := rows[i%3], rows[(i+2)%3], rows[(i+1)%3]
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
	}
	return rows[len(a)%3][len(b)]
}

// decodeStrict re-encodes the expanded tree and decodes it with KnownFields(true). The checker
// should already have reported anything this rejects; whatever it did not is returned as
// problems, with the decoder's line numbers mapped back to YAML paths. The Config is decoded as
// far as possible even when there are problems, so that validation can still run.
func decodeStrict(root *yaml.Node) (*Config, []problem) {
	var cfg Config
	text, err := yaml.Marshal(root)
	if err != nil {
		return &cfg, []problem{{msg: fmt.Sprintf("re-encode expanded config: %v", err)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	err = dec.Decode(&cfg)
	if err == nil {
		return &cfg, nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &cfg, []problem{{msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	// The decoder's lines are lines of the re-encoded text: map them through a tree of it.
	pathsAt := map[int][]string{}
	var again yaml.Node
	if yaml.Unmarshal(text, &again) == nil {
		walkValues(&again, "", func(path string, line int, _ *yaml.Node) {
			pathsAt[line] = append(pathsAt[line], path)
		})
	}
	var probs []problem
	for _, msg := range te.Errors {
		p := problem{msg: msg}
		if line, rest, ok := cutLine(msg); ok && len(pathsAt[line]) > 0 {
			p.path, p.msg = commonPath(pathsAt[line]), rest
		}
		probs = append(probs, p)
	}
	return &cfg, probs
}

// cutLine splits yaml.v3's "line 12: message".
func cutLine(msg string) (line int, rest string, ok bool) {
	head, rest, ok := strings.Cut(msg, ": ")
	num, isLine := strings.CutPrefix(head, "line ")
	if !ok || !isLine {
		return 0, "", false
	}
	line, err := strconv.Atoi(num)
	return line, rest, err == nil
}

// commonPath returns the longest path that every path in paths starts with (several keys
// share a line in flow style: paid: {column: x, in: [2]}).
func commonPath(paths []string) string {
	common := paths[0]
	for _, p := range paths[1:] {
		for common != "" && !within(p, common) {
			common = parentPath(common)
		}
	}
	return common
}

// Suggest returns the candidate closest to name when it is close enough to be a typo of it
// ("receiver_provnce" for receiver_province), else "".
func Suggest(name string, candidates []string) string { return suggest(name, candidates) }
