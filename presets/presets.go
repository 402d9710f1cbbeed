// Package presets holds one complete configuration per supported shop system (DESIGN.md §8),
// embedded in the binary and printed by `shipsync init`, with the grants each one needs.
//
// A preset is a config.yaml-shaped template. Its header names it:
//
//	# preset: opencart
//	# system: OpenCart 3.0.x
//	# prefix: oc_
//	# database: opencart
//
// and its text uses {{.Prefix}} and {{.Database}} wherever a table or schema name goes, so a shop
// installed with another prefix or schema works unchanged. Both are checked to be plain
// identifiers before they reach any SQL text. <name>.grants.sql is the matching least-privilege
// grant script, with {{.User}} for the account ('shipsync'@'%' by default).
//
// Set edits a rendered configuration by YAML path (shop.addr, carriers[0].url), the way
// `shipsync init --set` does; the config loader then reports any mistake by the same path.
package presets

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"
)

//go:embed *.yaml *.grants.sql
var files embed.FS

// Preset describes one embedded configuration.
type Preset struct {
	Name     string // the file's name without .yaml, as passed to --preset
	System   string // the shop system and versions it was written for
	Prefix   string // the system's default table prefix
	Database string // the schema name used when none is given
	Summary  string // what it does, one line
}

// Params fill a preset's template.
type Params struct {
	Prefix   string // table prefix; the preset's default when Default is used
	Database string // schema of the shop's tables
	User     string // grants only: the account, e.g. 'shipsync'@'10.0.0.%'
}

// List returns every preset, by name.
func List() []Preset {
	entries, err := fs.Glob(files, "*.yaml")
	if err != nil {
		panic(err) // a constant pattern
	}
	var out []Preset
	for _, e := range entries {
		p, err := header(e)
		if err != nil {
			panic(err) // TestHeaders keeps every embedded preset readable
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Preset) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Find returns the preset called name.
func Find(name string) (Preset, error) {
	all := List()
	names := make([]string, len(all))
	for i, p := range all {
		if p.Name == name {
			return p, nil
		}
		names[i] = p.Name
	}
	return Preset{}, fmt.Errorf("no preset %q (presets: %s)", name, strings.Join(names, ", "))
}

func header(file string) (Preset, error) {
	b, err := files.ReadFile(file)
	if err != nil {
		return Preset{}, err
	}
	p := Preset{Name: strings.TrimSuffix(file, ".yaml")}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			break
		}
		k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "preset":
			if v != p.Name {
				return p, fmt.Errorf("%s: header names preset %q", file, v)
			}
		case "system":
			p.System = v
		case "prefix":
			p.Prefix = v
		case "database":
			p.Database = v
		case "summary":
			p.Summary = v
		}
	}
	if p.System == "" || p.Database == "" || p.Summary == "" {
		return p, fmt.Errorf("%s: the header needs system, database and summary lines", file)
	}
	return p, nil
}

var (
	identRe  = regexp.MustCompile(`^[A-Za-z0-9_]*$`)
	schemaRe = regexp.MustCompile(`^[A-Za-z0-9_$]+$`)
	// 'user'@'host' with the characters MySQL account names use in practice.
	accountRe = regexp.MustCompile(`^'[A-Za-z0-9_.-]{1,80}'@'[A-Za-z0-9_.%:-]{1,255}'$`)
)

// Render returns the preset called name with p filled in; empty fields take the preset's
// defaults. The prefix and database go into SQL text, so only identifier characters are taken.
func Render(name string, p Params) ([]byte, error) {
	pr, err := Find(name)
	if err != nil {
		return nil, err
	}
	p, err = pr.params(p)
	if err != nil {
		return nil, err
	}
	return render(name+".yaml", p)
}

// Grants returns the preset's grant script with p filled in (User defaults to 'shipsync'@'%').
func Grants(name string, p Params) ([]byte, error) {
	pr, err := Find(name)
	if err != nil {
		return nil, err
	}
	if p, err = pr.params(p); err != nil {
		return nil, err
	}
	return render(name+".grants.sql", p)
}

func (pr Preset) params(p Params) (Params, error) {
	if p.Prefix == "" {
		p.Prefix = pr.Prefix
	}
	if p.Database == "" {
		p.Database = pr.Database
	}
	if p.User == "" {
		p.User = "'shipsync'@'%'"
	}
	switch {
	case !identRe.MatchString(p.Prefix) || len(p.Prefix) > 32:
		return p, fmt.Errorf("--prefix %q: letters, digits and _ only (at most 32)", p.Prefix)
	case !schemaRe.MatchString(p.Database) || len(p.Database) > 64:
		return p, fmt.Errorf("--database %q: letters, digits, _ and $ only (at most 64)", p.Database)
	case !accountRe.MatchString(p.User):
		return p, fmt.Errorf("--user %q: an account as 'name'@'host'", p.User)
	}
	return p, nil
}

func render(file string, p Params) ([]byte, error) {
	b, err := files.ReadFile(file)
	if err != nil {
		return nil, err
	}
	t, err := template.New(file).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("preset %s: %w", file, err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, p); err != nil {
		return nil, fmt.Errorf("preset %s: %w", file, err)
	}
	return out.Bytes(), nil
}

// Set applies PATH=VALUE assignments to a configuration and returns it re-encoded (comments
// kept). PATH is a YAML path as the config loader names it: shop.addr, carriers[0].url (a
// missing key is added, so a misspelt one is reported by the loader with a suggestion). VALUE is
// read as YAML: 200ms, [2, 15], "007" (quoted: text), or any text that is not valid YAML.
func Set(doc []byte, assignments []string) ([]byte, error) {
	if len(assignments) == 0 {
		return doc, nil
	}
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("config: not a YAML mapping")
	}
	for _, a := range assignments {
		path, value, ok := strings.Cut(a, "=")
		if !ok || path == "" {
			return nil, fmt.Errorf("--set %q: want PATH=VALUE, e.g. shop.addr=10.0.0.5:3306", a)
		}
		v, err := valueNode(value)
		if err != nil {
			return nil, fmt.Errorf("--set %s: %w", path, err)
		}
		if err := setPath(root.Content[0], path, v); err != nil {
			return nil, fmt.Errorf("--set %s: %w", path, err)
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return spaceSections(out.Bytes()), nil
}

// spaceSections puts back the blank line before each top-level section (and its comment) that
// the YAML encoder drops.
func spaceSections(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	var out []string
	for i, l := range lines {
		top := l != "" && l[0] != ' ' && l[0] != '#' && l[0] != '-'
		if top && i > 0 {
			// Before the comment lines that head this section, unless they head the file.
			j := len(out)
			for j > 0 && strings.HasPrefix(out[j-1], "#") {
				j--
			}
			if j > 0 && out[j-1] != "" {
				out = slices.Insert(out, j, "")
			}
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n"))
}

func valueNode(text string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil || len(doc.Content) != 1 || doc.Content[0].Kind == yaml.MappingNode && !strings.HasPrefix(strings.TrimSpace(text), "{") {
		// Not one YAML value (or "a: b" read as a mapping): the text as it is.
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: text}, nil
	}
	v := doc.Content[0]
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" && text == "" {
		v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "", Style: yaml.DoubleQuotedStyle}
	}
	v.HeadComment, v.LineComment, v.FootComment = "", "", ""
	return v, nil
}

// setPath walks a.b[0].c from m, adding missing mapping keys, and sets the last one to v (the
// old value's line comment stays).
func setPath(m *yaml.Node, path string, v *yaml.Node) error {
	steps, err := splitPath(path)
	if err != nil {
		return err
	}
	n := m
	for i, s := range steps {
		last := i == len(steps)-1
		if s.index >= 0 {
			if n.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s is not a list", describeStep(steps[:i]))
			}
			if s.index >= len(n.Content) {
				return fmt.Errorf("%s has %d items", describeStep(steps[:i]), len(n.Content))
			}
			if last {
				keepComment(n.Content[s.index], v)
				n.Content[s.index] = v
				return nil
			}
			n = n.Content[s.index]
			continue
		}
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s is not a section", describeStep(steps[:i]))
		}
		j := slices.IndexFunc(pairs(n), func(k *yaml.Node) bool { return k.Value == s.key })
		if j < 0 {
			child := &yaml.Node{Kind: yaml.MappingNode}
			if last {
				child = v
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.key}, child)
			n = child
			continue
		}
		if last {
			keepComment(n.Content[2*j+1], v)
			n.Content[2*j+1] = v
			return nil
		}
		n = n.Content[2*j+1]
	}
	return nil
}

func keepComment(old, v *yaml.Node) {
	if v.Kind == yaml.ScalarNode {
		v.LineComment = old.LineComment
	}
}

func pairs(m *yaml.Node) []*yaml.Node {
	keys := make([]*yaml.Node, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		keys = append(keys, m.Content[i])
	}
	return keys
}

type step struct {
	key   string
	index int // -1: a key
}

func splitPath(path string) ([]step, error) {
	var out []step
	for _, part := range strings.Split(path, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key == "" && (len(out) == 0 || rest == "") {
			return nil, fmt.Errorf("%q is not a YAML path like shop.addr or carriers[0].url", path)
		}
		if key != "" {
			out = append(out, step{key: key, index: -1})
		}
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if !ok || err != nil || i < 0 {
				return nil, fmt.Errorf("%q is not a YAML path like shop.addr or carriers[0].url", path)
			}
			out = append(out, step{index: i})
			rest = strings.TrimPrefix(after, "[")
			if after != "" && !strings.HasPrefix(after, "[") {
				return nil, fmt.Errorf("%q is not a YAML path like shop.addr or carriers[0].url", path)
			}
		}
	}
	return out, nil
}

func describeStep(steps []step) string {
	var b strings.Builder
	for _, s := range steps {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	if b.Len() == 0 {
		return "the top level"
	}
	return b.String()
}
