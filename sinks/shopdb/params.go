package shopdb

import (
	"cmp"
	"fmt"
	"strings"
	"time"
)

// Template is a SQL text compiled from named parameters to positional placeholders.
type Template struct {
	Source string   // as configured
	SQL    string   // with ? placeholders
	Params []string // parameter name of each placeholder, in order

	list    string // the list parameter Expand wrote as listLen placeholders per occurrence
	listLen int
}

// Compile turns :name parameters into ? placeholders.
func Compile(sql string) Template {
	q, names := Positional(sql)
	return Template{Source: sql, SQL: q, Params: names}
}

// Expand compiles the template's Source with every occurrence of the list parameter :name
// written as n placeholders ("?, ?, ?"), for an IN list of n values (n >= 1: "IN ()" is not
// SQL); other parameters compile as in Compile. Params names each placeholder, so a list
// occurrence is n entries of name. It is the same scan as Compile's: a ":keys" inside a
// string or a comment is not a parameter and is left alone.
func (t Template) Expand(name string, n int) Template {
	n = max(n, 1)
	q, names := positional(t.Source, name, n)
	return Template{Source: t.Source, SQL: q, Params: names, list: name, listLen: n}
}

// Args binds values to the template's placeholders. A parameter without a value is an error.
// The list parameter of an expanded template takes a []string of exactly as many values as
// Expand was given, bound in order at each of its occurrences.
func (t Template) Args(values map[string]any) ([]any, error) {
	args := make([]any, len(t.Params))
	listed := 0 // placeholders of the list parameter bound so far
	for i, p := range t.Params {
		v, ok := values[p]
		if !ok {
			return nil, fmt.Errorf("no value for parameter :%s", p)
		}
		if p == t.list {
			l, ok := v.([]string)
			if !ok || len(l) != t.listLen {
				return nil, fmt.Errorf("parameter :%s takes a list of %d values", p, t.listLen)
			}
			v = l[listed%t.listLen]
			listed++
		}
		args[i] = v
	}
	return args, nil
}

// Params returns the named parameters (":name") of a SQL template in order of appearance, one
// entry per occurrence. Config validation uses it too, so the validator and the compiler always
// agree on what is a parameter.
//
// A parameter is a colon followed by a letter or '_' and then letters, digits or '_'. Not
// parameters: anything inside '...', "..." or `...` (backslash and doubled-quote escapes
// understood, so '10:00:00' is a string), comments (-- to end of line, # to end of line,
// /* ... */), "::" (a cast in other dialects) and ":=" (assignment).
func Params(sql string) []string {
	var names []string
	scanParams(sql, func(start, end int) {
		names = append(names, sql[start+1:end])
	}, nil)
	return names
}

// BarePlaceholders counts the "?" of a template outside strings and comments. A template binds
// named parameters only: a "?" of its own would take an argument that is never passed, so the
// statement fails on every order. Config validation and Open refuse such templates.
func BarePlaceholders(sql string) int {
	n := 0
	scanParams(sql, func(int, int) {}, func() { n++ })
	return n
}

// Positional rewrites a SQL template for the MySQL driver: every named parameter becomes "?",
// and names lists them in order (the same list Params returns). Everything else, strings and
// comments included, is kept byte for byte.
func Positional(sql string) (query string, names []string) {
	return positional(sql, "", 1)
}

// positional is Positional with each occurrence of the parameter list (when not "") written as
// n placeholders separated by ", ".
func positional(sql, list string, n int) (query string, names []string) {
	var b strings.Builder
	last := 0
	scanParams(sql, func(start, end int) {
		b.WriteString(sql[last:start])
		name := sql[start+1 : end]
		count := 1
		if name == list {
			count = n
		}
		for i := range count {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
			names = append(names, name)
		}
		last = end
	}, nil)
	if names == nil {
		return sql, nil
	}
	b.WriteString(sql[last:])
	return b.String(), names
}

// scanParams calls fn with the byte span [start, end) of every named parameter in s, the
// colon included, and bare (when not nil) for every "?" outside strings and comments.
func scanParams(s string, fn func(start, end int), bare func()) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(s, i)
		case c == '#':
			i = skipLine(s, i)
		case c == '-' && strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || s[i+2] <= ' '):
			// MySQL needs whitespace after "--" for a comment: 5--3 is arithmetic.
			i = skipLine(s, i)
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			if end := strings.Index(s[i+2:], "*/"); end >= 0 {
				i += 2 + end + 2
			} else {
				i = len(s)
			}
		case c == ':':
			j := i + 1
			for j < len(s) && s[j] == ':' {
				j++
			}
			if j > i+1 || j == len(s) || !isNameStart(s[j]) {
				// "::", ":=", a lone colon: not a parameter.
				i = j
				continue
			}
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			fn(i, j)
			i = j
		case c == '?' && bare != nil:
			bare()
			i++
		default:
			i++
		}
	}
}

// skipQuoted returns the index just past the quoted string or identifier starting at s[i].
// An unterminated quote runs to the end.
func skipQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if q != '`' { // backticks have no backslash escapes
				j++
			}
		case q:
			if j+1 < len(s) && s[j+1] == q { // doubled quote: an escaped quote
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

func skipLine(s string, i int) int {
	if end := strings.IndexByte(s[i:], '\n'); end >= 0 {
		return i + end + 1
	}
	return len(s)
}

func isNameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isNameChar(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9'
}

// Values are the named parameters every write-back statement may bind (config.Params lists
// their names): the waybill write-back and the status statements bind the same set.
type Values struct {
	Key, Waybill, Carrier, ShipperCode, OrderCode, PickupTime, Status, Reason string
	EventTime                                                                 time.Time
	// Waybills is every parcel's number joined by writeback.separator (Waybill alone for one
	// parcel), Parcels how many; Warehouse where the order ships from; PreviousWaybills the
	// numbers a reissue replaces, as the shop holds them.
	Waybills, Warehouse, PreviousWaybills string
	Parcels                               int
}

// Map is the values by parameter name, with :now as now.
func (v Values) Map(now time.Time) map[string]any {
	return map[string]any{
		"key": v.Key, "waybill": v.Waybill, "carrier": v.Carrier, "shipper_code": v.ShipperCode,
		"order_code": v.OrderCode, "pickup_time": v.PickupTime, "status": v.Status, "reason": v.Reason,
		"event_time": v.EventTime.Format(time.DateTime), "now": now.Format(time.DateTime),
		"waybills": cmp.Or(v.Waybills, v.Waybill), "parcels": max(v.Parcels, 1), "warehouse": v.Warehouse,
		"previous_waybills": v.PreviousWaybills,
	}
}
