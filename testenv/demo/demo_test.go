package demo

import (
	"math/rand/v2"
	"reflect"
	"regexp"
	"testing"
	"unicode/utf8"
)

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		rows, cols int
		want       string
	}{
		{1, 1, "(?)"},
		{1, 3, "(?,?,?)"},
		{3, 2, "(?,?),(?,?),(?,?)"},
	}
	for _, tt := range tests {
		if got := placeholders(tt.rows, tt.cols); got != tt.want {
			t.Errorf("placeholders(%d, %d) = %q, want %q", tt.rows, tt.cols, got, tt.want)
		}
	}
}

func TestCents(t *testing.T) {
	tests := []struct {
		in    string
		cents int64
		out   string
	}{
		{"1399.00", 139900, "1399.00"},
		{"69.90", 6990, "69.90"},
		{"69.9", 6990, "69.90"},
		{"5", 500, "5.00"},
		{"0.05", 5, "0.05"},
	}
	for _, tt := range tests {
		got, err := parseCents(tt.in)
		if err != nil || got != tt.cents {
			t.Errorf("parseCents(%q) = %d, %v; want %d", tt.in, got, err, tt.cents)
		}
		if s := formatCents(got); s != tt.out {
			t.Errorf("formatCents(%d) = %q, want %q", got, s, tt.out)
		}
	}
	if _, err := parseCents("abc"); err == nil {
		t.Error("parseCents(abc) succeeded")
	}
}

func TestFixedData(t *testing.T) {
	if len(catalogue) < 20 {
		t.Errorf("%d goods, want at least 20", len(catalogue))
	}
	zips, areaCodes, streets := lookups()
	seen := map[string]bool{}
	for _, p := range regionTree {
		for _, c := range p.cities {
			if areaCodes[c.name] == "" {
				t.Errorf("city %s has no area code", c.name)
			}
			for _, d := range c.districts {
				key := c.name + "/" + d.name
				if seen[key] {
					t.Errorf("district %s twice", key)
				}
				seen[key] = true
				if len(zips[key]) != 6 || len(streets[key]) == 0 {
					t.Errorf("district %s: zip %q, %d streets", key, zips[key], len(streets[key]))
				}
			}
		}
	}
}

var (
	mobileRE = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	telRE    = regexp.MustCompile(`^$|^0[0-9]{2,3}-[5-8][0-9]{6,7}$`)
	snRE     = regexp.MustCompile(`^20[0-9]{18}$`)
)

func TestNewOrder(t *testing.T) {
	places := []place{
		{1, 2, 11, 20, "北京", "朝阳区"},
		{1, 5, 13, 25, "深圳", "南山区"},
		{1, 40, 41, 42, "某市", "某区"}, // a region the demo did not create
	}
	goods := []goodsRow{{1, "ECS000001", "a", 139900}, {2, "ECS000002", "b", 6990}, {3, "ECS000003", "c", 500}}
	zips, areaCodes, streets := lookups()
	gen := func(seed uint64) []order {
		rng := rand.New(rand.NewPCG(seed, 0))
		out := make([]order, 2000)
		for i := range out {
			out[i] = newOrder(rng, int64(i+1), places, goods, zips, areaCodes, streets)
		}
		return out
	}
	orders := gen(1)
	if !reflect.DeepEqual(orders, gen(1)) {
		t.Fatal("newOrder is not deterministic for a seed")
	}
	sns := map[string]bool{}
	for _, o := range orders {
		if len(o.args) != orderColumnCount {
			t.Fatalf("order %s has %d values for %d columns", o.sn, len(o.args), orderColumnCount)
		}
		if !snRE.MatchString(o.sn) || sns[o.sn] {
			t.Errorf("order_sn %q malformed or repeated", o.sn)
		}
		sns[o.sn] = true
		name, tel, mobile := o.args[4].(string), o.args[11].(string), o.args[12].(string)
		if n := utf8.RuneCountInString(name); n < 2 || n > 4 {
			t.Errorf("consignee %q", name)
		}
		if !mobileRE.MatchString(mobile) || !telRE.MatchString(tel) {
			t.Errorf("mobile %q tel %q", mobile, tel)
		}
		if addr := o.args[9].(string); addr == "" || utf8.RuneCountInString(addr) > 255 {
			t.Errorf("address %q", addr)
		}
		if len(o.lines) < 1 || len(o.lines) > 3 {
			t.Errorf("order %s has %d lines", o.sn, len(o.lines))
		}
		var cents int64
		for _, l := range o.lines {
			cents += l.goods.priceCents * int64(l.qty)
		}
		if o.args[19] != formatCents(cents) || o.args[20] != formatCents(cents) {
			t.Errorf("order %s: amounts %v/%v, items sum to %s", o.sn, o.args[19], o.args[20], formatCents(cents))
		}
	}
}
