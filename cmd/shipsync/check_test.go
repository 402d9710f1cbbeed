package main

import (
	"strings"
	"testing"
)

func TestRowValueOptions(t *testing.T) {
	tests := []struct {
		value    string
		jsonCols []string
		ok       bool
		want     string
	}{
		{"", nil, true, "binlog_row_value_options=''"},
		{"", []string{"extra"}, true, "binlog_row_value_options=''"},
		{"PARTIAL_JSON", nil, true, "binlog_row_value_options=PARTIAL_JSON: shop.ecs_order_info has no JSON column"},
		{"partial_json", []string{"extra", "meta"}, false, "binlog_row_value_options='': it is partial_json and " +
			"shop.ecs_order_info has JSON column(s) extra, meta: a partial JSON update stops the reader; " +
			"SET GLOBAL binlog_row_value_options = ''"},
	}
	for _, tt := range tests {
		ok, name, detail := rowValueOptions(tt.value, "shop.ecs_order_info", tt.jsonCols)
		got := name
		if detail != "" {
			got += ": " + detail
		}
		if ok != tt.ok || !strings.HasPrefix(got, tt.want) {
			t.Errorf("rowValueOptions(%q, %q) = %v %q, want %v %q", tt.value, tt.jsonCols, ok, got, tt.ok, tt.want)
		}
	}
}
