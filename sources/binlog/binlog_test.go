package binlog

import (
	"testing"
	"time"
)

func TestTextOf(t *testing.T) {
	tests := []struct {
		v                any
		unsigned, medium bool
		want             string
		ok               bool
	}{
		{nil, false, false, "", false},
		{"wc-processing", false, false, "wc-processing", true},
		{[]byte("2"), false, false, "2", true},
		{int8(2), true, false, "2", true},
		{int8(-56), true, false, "200", true}, // tinyint unsigned 200 decodes as int8 -56
		{int8(-56), false, false, "-56", true},
		{int16(-1), true, false, "65535", true},
		{int32(-1), true, true, "16777215", true}, // mediumint unsigned (ECShop order_id)
		{int32(-1), true, false, "4294967295", true},
		{int64(-1), true, false, "18446744073709551615", true},
		{int64(42), false, false, "42", true},
		{float64(1.5), false, false, "1.5", true},
		{time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), false, false, "2024-05-01 10:00:00", true},
	}
	for _, tt := range tests {
		got, ok := textOf(tt.v, tt.unsigned, tt.medium)
		if got != tt.want || ok != tt.ok {
			t.Errorf("textOf(%#v, unsigned=%v, medium=%v) = %q %v, want %q %v", tt.v, tt.unsigned, tt.medium, got, ok, tt.want, tt.ok)
		}
	}
}

func TestQueryEvents(t *testing.T) {
	tests := []struct {
		q          string
		tx, end    bool
		mentionsIt bool
	}{
		{"BEGIN", true, false, false},
		{"COMMIT", false, true, false},
		{"commit", false, true, false},
		{"ROLLBACK", false, true, false},
		{"ROLLBACK TO SAVEPOINT a", true, false, false},
		{"SAVEPOINT a", true, false, false},
		{"ALTER TABLE `ecs_order_info` ADD COLUMN x INT", false, false, true},
		{"ALTER TABLE ecs_goods ADD COLUMN x INT", false, false, false},
	}
	for _, tt := range tests {
		q := []byte(tt.q)
		if isTxStatement(q) != tt.tx || (isEnd(q) && !isTxStatement(q)) != tt.end || mentions(q, "ecs_order_info") != tt.mentionsIt {
			t.Errorf("%q: tx %v end %v mentions %v", tt.q, isTxStatement(q), isEnd(q), mentions(q, "ecs_order_info"))
		}
	}
}

func TestImage(t *testing.T) {
	c := newColumns([]string{"order_id", "pay_status", "note"})
	c.unsigned[0], c.medium[0] = true, true
	im := Image{cols: c, vals: []any{int32(-1), int8(2), nil}}
	if v, ok := im.Text("order_id"); v != "16777215" || !ok {
		t.Errorf("order_id = %q %v", v, ok)
	}
	if _, ok := im.Text("note"); ok {
		t.Error("NULL reads as a value")
	}
	if _, ok := im.Text("missing"); ok || im.Has("missing") || !im.Has("note") {
		t.Error("unknown column")
	}
	if !(Image{}).Empty() || im.Empty() {
		t.Error("Empty")
	}
}
