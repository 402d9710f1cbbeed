package shopdb

import (
	"reflect"
	"strings"
	"testing"
)

func TestCompile(t *testing.T) {
	tests := []struct {
		in     string
		sql    string
		params []string
	}{
		{"SELECT * FROM o WHERE id = :key", "SELECT * FROM o WHERE id = ?", []string{"key"}},
		{"UPDATE o SET w = :waybill WHERE id = :key AND w = ''", "UPDATE o SET w = ? WHERE id = ? AND w = ''", []string{"waybill", "key"}},
		{"SELECT ':key', \":key\", `:key` FROM t WHERE a = :key", "SELECT ':key', \":key\", `:key` FROM t WHERE a = ?", []string{"key"}},
		{"SELECT 'it''s :x', 'a\\':y' , :z", "SELECT 'it''s :x', 'a\\':y' , ?", []string{"z"}},
		{"SELECT '10:00:00' -- :no\n, :yes /* :no */ # :no", "SELECT '10:00:00' -- :no\n, ? /* :no */ # :no", []string{"yes"}},
		{"SELECT a::int, @v := 1, :p1", "SELECT a::int, @v := 1, ?", []string{"p1"}},
	}
	for _, tt := range tests {
		got := Compile(tt.in)
		if got.SQL != tt.sql || !reflect.DeepEqual(got.Params, tt.params) {
			t.Errorf("Compile(%q) = %q %v, want %q %v", tt.in, got.SQL, got.Params, tt.sql, tt.params)
		}
	}
}

func TestArgs(t *testing.T) {
	tp := Compile("UPDATE o SET w = :waybill WHERE id = :key OR parent = :key")
	args, err := tp.Args(map[string]any{"key": 7, "waybill": "SIM1"})
	if err != nil || !reflect.DeepEqual(args, []any{"SIM1", 7, 7}) {
		t.Fatalf("args %v %v", args, err)
	}
	if _, err := tp.Args(map[string]any{"key": 7}); err == nil {
		t.Fatal("missing parameter accepted")
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		sql  string
	}{
		{"in list", "SELECT * FROM o WHERE o.order_id IN (:keys)", 3, "SELECT * FROM o WHERE o.order_id IN (?, ?, ?)"},
		{"one key", "WHERE id IN (:keys)", 1, "WHERE id IN (?)"},
		{"below one is one", "WHERE id IN (:keys)", 0, "WHERE id IN (?)"},
		{"every occurrence", "SELECT a FROM x WHERE id IN (:keys) UNION SELECT b FROM y WHERE id IN (:keys)", 2,
			"SELECT a FROM x WHERE id IN (?, ?) UNION SELECT b FROM y WHERE id IN (?, ?)"},
		{"strings and comments untouched",
			"SELECT ':keys', \":keys\", `:keys` -- :keys\n FROM t /* IN (:keys) */ WHERE id IN (:keys) # :keys",
			2, "SELECT ':keys', \":keys\", `:keys` -- :keys\n FROM t /* IN (:keys) */ WHERE id IN (?, ?) # :keys"},
		{"other names are single", "SELECT :key, :keys_old, :keys", 2, "SELECT ?, ?, ?, ?"},
		{"cast and assignment", "SELECT @a := 1, :keys::int", 2, "SELECT @a := 1, ?, ?::int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compile(tt.in).Expand("keys", tt.n)
			if got.SQL != tt.sql || got.Source != tt.in {
				t.Errorf("Expand(%q, %d) = %q (source %q), want %q", tt.in, tt.n, got.SQL, got.Source, tt.sql)
			}
			if n := strings.Count(tt.sql, "?"); len(got.Params) != n {
				t.Errorf("Expand(%q, %d) names %d placeholders %q, the SQL has %d", tt.in, tt.n, len(got.Params), got.Params, n)
			}
		})
	}
	if got, want := Compile("WHERE id IN (:keys)").Expand("keys", 1).SQL, Compile("WHERE id IN (:keys)").SQL; got != want {
		t.Errorf("one key: Expand gives %q, Compile %q: Open's statement would not be the class of one", got, want)
	}
}

func TestExpandArgs(t *testing.T) {
	tp := Compile("SELECT :keys_old FROM a WHERE id IN (:keys) OR parent IN (:keys)").Expand("keys", 3)
	args, err := tp.Args(map[string]any{"keys": []string{"1", "2", "3"}, "keys_old": 9})
	if want := []any{9, "1", "2", "3", "1", "2", "3"}; err != nil || !reflect.DeepEqual(args, want) {
		t.Fatalf("args %v %v, want %v", args, err, want)
	}
	for _, v := range []any{[]string{"1", "2"}, []string{"1", "2", "3", "4"}, "1", []any{"1", "2", "3"}} {
		if _, err := tp.Args(map[string]any{"keys": v, "keys_old": 9}); err == nil {
			t.Errorf("keys %#v bound to a list of 3", v)
		}
	}
	// Not expanded, :keys is a parameter like any other.
	if args, err := Compile("WHERE id IN (:keys)").Args(map[string]any{"keys": "7"}); err != nil || !reflect.DeepEqual(args, []any{"7"}) {
		t.Errorf("compiled only: %v %v", args, err)
	}
}
