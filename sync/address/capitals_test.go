package address

import (
	"math"
	"testing"
)

func TestCapitalEveryDivision(t *testing.T) {
	for _, d := range divisions {
		lat, lon, ok := Capital(d.name)
		if !ok {
			t.Errorf("Capital(%q): no capital", d.name)
			continue
		}
		// China spans about 18-54 N and 73-135 E: a swapped or mistyped coordinate falls outside.
		if lat < 18 || lat > 54 || lon < 73 || lon > 135 {
			t.Errorf("Capital(%q) = %.2f, %.2f: outside China", d.name, lat, lon)
		}
		for _, a := range d.aliases {
			if aLat, aLon, ok := Capital(a); !ok || aLat != lat || aLon != lon {
				t.Errorf("Capital(%q) = %.2f, %.2f, %v; want %q's %.2f, %.2f", a, aLat, aLon, ok, d.name, lat, lon)
			}
		}
	}
	// Every key is one of Kdniao's names: a key spelt otherwise (北京市, 广东) would never be found.
	names := map[string]bool{}
	for _, d := range divisions {
		names[d.name] = true
	}
	for name := range capitals {
		if !names[name] {
			t.Errorf("capitals has %q, which is not a division's Kdniao name", name)
		}
	}
	if len(capitals) != len(divisions) {
		t.Errorf("%d capitals for %d divisions", len(capitals), len(divisions))
	}
}

func TestCapital(t *testing.T) {
	for _, tc := range []struct {
		province string
		lat, lon float64
		ok       bool
	}{
		{"广东省", 23.13, 113.26, true},
		{"Guangdong", 23.13, 113.26, true},
		{"CN-GD", 23.13, 113.26, true},
		{"广东", 23.13, 113.26, true},
		{"Beijing", 39.90, 116.41, true},
		{"Tibet", 29.65, 91.13, true},
		{"Hong Kong", 22.28, 114.16, true},
		// Cities and foreign regions are not provinces.
		{"广州", 0, 0, false},
		{"深圳市", 0, 0, false},
		{"Bavaria", 0, 0, false},
		{"", 0, 0, false},
	} {
		lat, lon, ok := Capital(tc.province)
		if lat != tc.lat || lon != tc.lon || ok != tc.ok {
			t.Errorf("Capital(%q) = %.2f, %.2f, %v; want %.2f, %.2f, %v", tc.province, lat, lon, ok, tc.lat, tc.lon, tc.ok)
		}
	}
}

func TestDistanceKm(t *testing.T) {
	for _, tc := range []struct {
		from, to  string
		want, tol float64
	}{
		{"北京", "上海", 1067, 20},
		{"广东", "广西", 500, 30},          // 广州–南宁
		{"北京", "新疆", 2400, 60},         // 北京–乌鲁木齐
		{"黑龙江", "上海", 1680, 40},        // 哈尔滨–上海
		{"黑龙江", "四川", 2600, 80},        // 哈尔滨–成都
		{"Tibet", "Sichuan", 1250, 40}, // 拉萨–成都
		{"上海", "上海", 0, 0},
	} {
		lat1, lon1, ok1 := Capital(tc.from)
		lat2, lon2, ok2 := Capital(tc.to)
		if !ok1 || !ok2 {
			t.Fatalf("no capital for %q or %q", tc.from, tc.to)
		}
		got := DistanceKm(lat1, lon1, lat2, lon2)
		if math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%s–%s = %.0f km, want %.0f ± %.0f", tc.from, tc.to, got, tc.want, tc.tol)
		}
		if back := DistanceKm(lat2, lon2, lat1, lon1); math.Abs(back-got) > 1e-9 {
			t.Errorf("%s–%s = %.3f km one way, %.3f back", tc.from, tc.to, got, back)
		}
	}
	// Antipodes: half the circumference, where rounding could push asin's argument past 1.
	if got, want := DistanceKm(0, 0, 0, 180), math.Pi*capitalEarthRadiusKm; math.Abs(got-want) > 1e-6 {
		t.Errorf("antipodes = %.3f km, want %.3f", got, want)
	}
}
