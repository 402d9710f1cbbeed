package config

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// problem is one thing wrong with a configuration, at a YAML path.
type problem struct {
	path string // "carriers[0].timeout"; empty when no key is to blame
	msg  string
	line int // 0 when the key is not in the file
}

func (p problem) Error() string {
	if p.path == "" {
		return p.msg
	}
	return p.path + ": " + p.msg
}

func joinProblems(probs []problem) error {
	if len(probs) == 0 {
		return nil
	}
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// parse is Parse with the environment passed in.
func parse(data []byte, lookup lookupFunc) (*Config, error) {
	root, err := parseDocument(data)
	if err != nil {
		return nil, err
	}

	lines := map[string]int{}
	probs := expandTree(root, lookup, lines)
	covers := make([]string, 0, len(probs))
	for _, p := range probs {
		covers = append(covers, p.path)
	}

	chk := checker{}
	chk.check(root.Content[0], reflect.TypeFor[Config](), "", 0)
	probs = append(probs, chk.probs...)
	covers = append(covers, chk.covers...)

	cfg, backstop := decodeStrict(root)
	for _, p := range backstop {
		if !related(p.path, covers) {
			probs = append(probs, p)
			covers = append(covers, p.path)
		}
	}

	cfg.applyDefaults()
	for _, p := range cfg.problems() {
		if !coveredBy(p.path, covers) {
			probs = append(probs, p)
		}
	}
	if len(probs) == 0 {
		return cfg, nil
	}
	sortProblems(probs, lines)
	return nil, joinProblems(slices.Compact(probs))
}

// parseDocument parses data into a tree whose root holds one mapping.
func parseDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errEmpty()
		}
		return nil, errors.New("invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid YAML: the file must hold exactly one document (remove the second ---)")
	}
	if len(root.Content) == 0 || root.Content[0].ShortTag() == "!!null" {
		return nil, errEmpty()
	}
	if top := root.Content[0]; top.Kind != yaml.MappingNode {
		return nil, errors.New("the configuration must be a mapping of keys (mode:, shop:, orders:, ...), got " + describe(top))
	}
	return &root, nil
}

func errEmpty() error {
	return errors.New("the configuration is empty (start from the example config.yaml)")
}

// coveredBy reports whether path is, or lies under, one of the covered paths.
func coveredBy(path string, covers []string) bool {
	for _, c := range covers {
		if c != "" && within(path, c) {
			return true
		}
	}
	return false
}

// related reports whether path and one of paths lie one under the other.
func related(path string, paths []string) bool {
	for _, p := range paths {
		if within(path, p) || within(p, path) {
			return true
		}
	}
	return false
}

// within reports whether path is base or lies under it.
func within(path, base string) bool {
	if base == "" || path == base {
		return true
	}
	rest, ok := strings.CutPrefix(path, base)
	return ok && (rest[0] == '.' || rest[0] == '[')
}

// parentPath drops the last segment: "a.b[2]" → "a.b", "a.b" → "a", "a" → "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// sortProblems puts problems in file order. A problem about a key that is not in the file
// (a missing required value) sorts with its nearest ancestor that is; one with no ancestor
// in the file sorts last.
func sortProblems(probs []problem, lines map[string]int) {
	lineOf := func(p problem) int {
		if p.line > 0 {
			return p.line
		}
		for path := p.path; path != ""; path = parentPath(path) {
			if l, ok := lines[path]; ok {
				return l
			}
		}
		return math.MaxInt
	}
	slices.SortStableFunc(probs, func(a, b problem) int {
		return cmp.Compare(lineOf(a), lineOf(b))
	})
}
