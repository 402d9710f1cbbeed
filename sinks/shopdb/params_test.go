package shopdb

import (
	"reflect"
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
