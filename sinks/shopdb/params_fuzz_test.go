package shopdb

import (
	"slices"
	"strings"
	"testing"
)

// codeMask is an oracle written apart from scanParams, as a state machine over bytes: it
// reports, for each byte of sql, whether the server reads it as code (true) or as part of a
// string, quoted identifier or comment (false), with the rules Params documents.
func codeMask(sql string) []bool {
	const (
		code = iota
		quoted
		lineComment
		blockComment
	)
	mask := make([]bool, len(sql))
	state, quote := code, byte(0)
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch state {
		case code:
			switch {
			case c == '\'' || c == '"' || c == '`':
				state, quote = quoted, c
			case c == '#':
				state = lineComment
			case c == '-' && i+1 < len(sql) && sql[i+1] == '-' && (i+2 == len(sql) || sql[i+2] <= ' '):
				state = lineComment
			case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
				state = blockComment
				i++ // the '*' opens the comment; it cannot also close it
			default:
				mask[i] = true
			}
		case quoted:
			switch {
			case c == '\\' && quote != '`':
				i++
			case c == quote && i+1 < len(sql) && sql[i+1] == quote:
				i++
			case c == quote:
				state = code
			}
		case lineComment:
			if c == '\n' {
				state = code
			}
		case blockComment:
			if c == '*' && i+1 < len(sql) && sql[i+1] == '/' {
				state = code
				i++
			}
		}
	}
	return mask
}

func nameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func nameChar(c byte) bool { return nameStart(c) || '0' <= c && c <= '9' }

// oracleParams lists the [start, end) spans of the named parameters of sql by the documented
// rule: in code, a colon that is not part of a run of colons and not followed by '=' or
// anything but a name start, then the name.
func oracleParams(sql string) [][2]int {
	mask := codeMask(sql)
	var spans [][2]int
	for i := 0; i < len(sql); i++ {
		if !mask[i] || sql[i] != ':' {
			continue
		}
		j := i
		for j < len(sql) && sql[j] == ':' && mask[j] {
			j++
		}
		if j-i > 1 || j == len(sql) || !mask[j] || !nameStart(sql[j]) {
			i = j - 1
			continue
		}
		for j < len(sql) && mask[j] && nameChar(sql[j]) {
			j++
		}
		spans = append(spans, [2]int{i, j})
		i = j - 1
	}
	return spans
}

// oracleCompile is what compiling sql must give, from the oracle's spans: each parameter
// replaced by one '?', or by n of them joined by ", " for the list parameter (none when "").
func oracleCompile(sql string, spans [][2]int, list string, n int) (names []string, compiled string) {
	var b strings.Builder
	last := 0
	for _, s := range spans {
		name := sql[s[0]+1 : s[1]]
		b.WriteString(sql[last:s[0]])
		count := 1
		if name == list {
			count = n
		}
		b.WriteString(strings.Repeat("?, ", count-1) + "?")
		for range count {
			names = append(names, name)
		}
		last = s[1]
	}
	b.WriteString(sql[last:])
	return names, b.String()
}

// placeholders counts the '?' the server reads as placeholders in sql.
func placeholders(sql string) int {
	n := 0
	for i, code := range codeMask(sql) {
		if code && sql[i] == '?' {
			n++
		}
	}
	return n
}

// FuzzCompile checks Compile against the oracle: it never panics, it finds exactly the
// parameters the documented rule finds, it replaces each by one '?' (Expand: :keys by a list
// of them) and changes nothing else, the compiled SQL holds no :name outside strings and
// comments, and the server would see as many placeholders as the template binds arguments
// (Template.Params).
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"UPDATE ecs_order_info SET invoice_no = :waybill, shipping_time = UNIX_TIMESTAMP() WHERE order_id = :key AND invoice_no = ''",
		"SELECT order_sn AS order_code FROM ecs_order_info WHERE order_id = :key",
		"SELECT 'it''s :nope', `a``:nope`, \"say \"\"hi:nope\"\"\", 'a\\\\', :key",
		"SELECT :key -- and :nope\n, :waybill # :nope\n /* :nope */ :status",
		"SELECT 5--:key, a::text, @n:=:key, :1, ': ', lbl: x",
		"SELECT ':key",
		"SELECT :key /* :nope",
		"SELECT /*/ :nope */ :key",
		"SELECT :a:b::c:=:_d9",
		"SELECT ':keys' -- :keys\n FROM t /* :keys */ WHERE id IN (:keys) OR p IN (:keys) # :keys",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		tpl := Compile(sql)
		if tpl.Source != sql {
			t.Fatalf("Source = %q, want %q", tpl.Source, sql)
		}
		spans := oracleParams(sql)
		want, wantSQL := oracleCompile(sql, spans, "", 0)
		if !slices.Equal(tpl.Params, want) {
			t.Fatalf("Compile(%q).Params = %q, the documented rule finds %q", sql, tpl.Params, want)
		}
		if !slices.Equal(Params(sql), tpl.Params) {
			t.Fatalf("Params(%q) = %q, Compile found %q", sql, Params(sql), tpl.Params)
		}
		if tpl.SQL != wantSQL {
			t.Fatalf("Compile(%q).SQL = %q, want %q", sql, tpl.SQL, wantSQL)
		}
		// Expand finds the same parameters and writes only :keys as a list.
		wantExp, wantExpSQL := oracleCompile(sql, spans, "keys", 3)
		exp := tpl.Expand("keys", 3)
		if exp.SQL != wantExpSQL || !slices.Equal(exp.Params, wantExp) {
			t.Fatalf("Expand(%q, 3) = %q %q, want %q %q", sql, exp.SQL, exp.Params, wantExpSQL, wantExp)
		}
		if left := Params(tpl.SQL); len(left) > 0 {
			t.Fatalf("compiled SQL %q still holds parameters %q", tpl.SQL, left)
		}
		if BarePlaceholders(sql) > 0 {
			return // refused by config validation and by Open: never compiled for a statement
		}
		for _, tp := range []Template{tpl, exp} {
			if n := placeholders(tp.SQL); n != len(tp.Params) {
				t.Fatalf("compiled SQL %q has %d placeholders, the template binds %d arguments (%q)",
					tp.SQL, n, len(tp.Params), tp.Params)
			}
		}
	})
}
