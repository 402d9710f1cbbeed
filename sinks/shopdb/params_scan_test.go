package shopdb

import (
	"slices"
	"testing"
)

func TestParams(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{"none", "SELECT 1", nil},
		{"empty", "", nil},
		{"one", "SELECT * FROM t WHERE id = :key", []string{"key"}},
		{"order of appearance", "UPDATE t SET a = :waybill, b = :carrier WHERE id = :key", []string{"waybill", "carrier", "key"}},
		{"repeated names are listed each time", "SELECT :key, :key", []string{"key", "key"}},
		{"next to punctuation", "VALUES(:key,:waybill)", []string{"key", "waybill"}},
		{"underscores and digits", "SET x = :pickup_time, y = :v2, z = :_x", []string{"pickup_time", "v2", "_x"}},
		{"ends the statement", "WHERE id = :key;", []string{"key"}},
		{"at the very end", "WHERE id=:key", []string{"key"}},
		{"multi-line", "SELECT *\n  FROM t\n WHERE id = :key\n   AND s = :status\n", []string{"key", "status"}},

		{"single-quoted", "SELECT ':nope' FROM t WHERE id = :key", []string{"key"}},
		{"double-quoted", `SELECT ":nope" FROM t WHERE id = :key`, []string{"key"}},
		{"backquoted identifier", "SELECT `a:nope` FROM t WHERE id = :key", []string{"key"}},
		{"time in a string", "SELECT * FROM t WHERE at > '2024-05-01 10:00:00' AND id = :key", []string{"key"}},
		{"doubled single quote", "SELECT 'it''s :nope' , :key", []string{"key"}},
		{"backslash-escaped quote", `SELECT 'it\'s :nope', :key`, []string{"key"}},
		{"escaped backslash ends the string", `SELECT 'a\\', :key`, []string{"key"}},
		{"doubled double quote", `SELECT "say ""hi:nope""", :key`, []string{"key"}},
		{"doubled backquote", "SELECT `a``:nope`, :key", []string{"key"}},
		{"backslash is literal in backquotes", "SELECT `a\\`, :key", []string{"key"}},
		{"other quotes inside a string", `SELECT '"' , :key, "'", :waybill`, []string{"key", "waybill"}},
		{"unterminated string swallows the rest", "SELECT ':key", nil},

		{"dash-dash comment", "SELECT :key -- and :nope\n, :waybill", []string{"key", "waybill"}},
		{"dash-dash comment at end", "SELECT :key --", []string{"key"}},
		{"dash-dash without space is arithmetic", "SELECT 5--:key", []string{"key"}},
		{"hash comment", "SELECT :key # :nope\n, :waybill", []string{"key", "waybill"}},
		{"block comment", "SELECT /* :nope\n :nope2 */ :key", []string{"key"}},
		{"unterminated block comment", "SELECT :key /* :nope", []string{"key"}},
		{"quote inside a comment", "SELECT :key -- don't\n, :waybill", []string{"key", "waybill"}},

		{"cast", "SELECT a::text, :key", []string{"key"}},
		{"cast before a name", "SELECT :key::int", []string{"key"}},
		{"assignment", "SET @n := 1; SELECT @n, :key", []string{"key"}},
		{"assignment without space", "SELECT @n:=:key", []string{"key"}},
		{"lone colon", "SELECT ': ', a : b, :key", []string{"key"}},
		{"colon before a digit", "SELECT :1, :key", []string{"key"}},
		{"label", "lbl: BEGIN SELECT :key; END", []string{"key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Params(tt.sql); !slices.Equal(got, tt.want) {
				t.Errorf("Params(%q) = %q, want %q", tt.sql, got, tt.want)
			}
		})
	}
}

func TestPositional(t *testing.T) {
	tests := []struct {
		sql, want string
		names     []string
	}{
		{"SELECT 1", "SELECT 1", nil},
		{
			"UPDATE t SET n = :waybill, at = '10:00:00' WHERE id = :key AND n = '' -- :x",
			"UPDATE t SET n = ?, at = '10:00:00' WHERE id = ? AND n = '' -- :x",
			[]string{"waybill", "key"},
		},
		{"SELECT :key::int, @a:=:key", "SELECT ?::int, @a:=?", []string{"key", "key"}},
	}
	for _, tt := range tests {
		got, names := Positional(tt.sql)
		if got != tt.want || !slices.Equal(names, tt.names) {
			t.Errorf("Positional(%q) = %q, %q; want %q, %q", tt.sql, got, names, tt.want, tt.names)
		}
		if p := Params(tt.sql); !slices.Equal(p, names) {
			t.Errorf("Positional and Params disagree on %q: %q vs %q", tt.sql, names, p)
		}
	}
}
