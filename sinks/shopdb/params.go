package shopdb

import (
	"fmt"
	"strings"
)

// Template is a SQL text compiled from named parameters to positional placeholders.
type Template struct {
	Source string   // as configured
	SQL    string   // with ? placeholders
	Params []string // parameter name of each placeholder, in order
}

// Params returns the :name parameters of a SQL text in order of appearance. Quoted strings,
// quoted identifiers and comments are skipped; "::" and ":=" are not parameters.
func Params(sql string) []string {
	return Compile(sql).Params
}

// Compile turns :name parameters into ? placeholders.
func Compile(sql string) Template {
	var out strings.Builder
	var names []string
	n := len(sql)
	for i := 0; i < n; {
		c := sql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := skipQuoted(sql, i)
			out.WriteString(sql[i:j])
			i = j
		case c == '-' && i+1 < n && sql[i+1] == '-' || c == '#':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				j = n - i
			}
			out.WriteString(sql[i : i+j])
			i += j
		case c == '/' && i+1 < n && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			end := n
			if j >= 0 {
				end = i + 2 + j + 2
			}
			out.WriteString(sql[i:end])
			i = end
		case c == ':' && i+1 < n && sql[i+1] == ':':
			out.WriteString("::")
			i += 2
		case c == ':' && i+1 < n && isIdentStart(sql[i+1]) && (i == 0 || !isIdent(sql[i-1])):
			j := i + 1
			for j < n && isIdent(sql[j]) {
				j++
			}
			names = append(names, sql[i+1:j])
			out.WriteByte('?')
			i = j
		default:
			out.WriteByte(c)
			i++
		}
	}
	return Template{Source: sql, SQL: out.String(), Params: names}
}

// skipQuoted returns the index after the quoted run starting at i, honouring backslash escapes
// and doubled quotes.
func skipQuoted(s string, i int) int {
	q := s[i]
	j := i + 1
	for j < len(s) {
		switch s[j] {
		case '\\':
			if q != '`' {
				j += 2
				continue
			}
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j += 2
				continue
			}
			return j + 1
		}
		j++
	}
	return len(s)
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// Args binds values to the template's placeholders. A parameter without a value is an error.
func (t Template) Args(values map[string]any) ([]any, error) {
	args := make([]any, len(t.Params))
	for i, p := range t.Params {
		v, ok := values[p]
		if !ok {
			return nil, fmt.Errorf("no value for parameter :%s", p)
		}
		args[i] = v
	}
	return args, nil
}
