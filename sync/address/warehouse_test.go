package address

import (
	"fmt"
	"strings"
	"testing"
)

func TestChoose(t *testing.T) {
	// Three warehouses placed by their province's capital, none serving anything.
	spread := []Site{
		{Name: "shanghai", Province: "上海"},
		{Name: "guangzhou", Province: "Guangdong"},
		{Name: "chengdu", Province: "CN-SC"},
	}
	for _, tc := range []struct {
		name     string
		sites    []Site
		receiver string
		def      int
		want     Choice
	}{
		{"served wins over nearer", []Site{
			{Name: "guangzhou", Province: "广东"},
			{Name: "shanghai", Province: "上海", Serves: []string{"浙江", "广东"}},
		}, "广东省", 0, Choice{1, "serves 广东省"}},
		{"first serving site wins", []Site{
			{Name: "a", Province: "上海", Serves: []string{"广东"}},
			{Name: "b", Province: "广东", Serves: []string{"广东"}},
		}, "广东", 1, Choice{0, "serves 广东省"}},
		{"serves in English, receiver ISO", []Site{
			{Name: "shanghai", Province: "上海"},
			{Name: "far", Province: "新疆", Serves: []string{"Guangdong"}},
		}, "CN-GD", 0, Choice{1, "serves 广东省"}},
		{"serves ISO, receiver short Chinese", []Site{
			{Name: "shanghai", Province: "上海"},
			{Name: "far", Province: "新疆", Serves: []string{"CN-GD"}},
		}, "广东", 0, Choice{1, "serves 广东省"}},
		{"serves short Chinese, receiver English", []Site{
			{Name: "shanghai", Province: "上海"},
			{Name: "far", Province: "新疆", Serves: []string{"广东"}},
		}, "Guangdong", 0, Choice{1, "serves 广东省"}},
		{"serving its own province is not implied", []Site{
			{Name: "shanghai", Province: "上海"},
			{Name: "hangzhou", Province: "浙江", Serves: []string{"江苏"}},
		}, "上海", 1, Choice{0, "nearest (0 km)"}},

		{"浙江 nearest 上海", spread, "浙江", 2, Choice{0, "nearest (165 km)"}},
		{"广西 nearest 广州", spread, "Guangxi", 0, Choice{1, "nearest (502 km)"}},
		{"云南 nearest 成都", spread, "CN-YN", 0, Choice{2, "nearest (629 km)"}},
		{"西藏 nearest 成都", spread, "Tibet", 0, Choice{2, "nearest (1,248 km)"}},
		// 哈尔滨 is about 1,680 km from 上海 and 2,580 from 成都.
		{"黑龙江 nearest 上海", spread, "黑龙江", 2, Choice{0, "nearest (1,678 km)"}},

		{"of equally near sites the first wins", []Site{
			{Name: "chengdu", Province: "四川"},
			{Name: "pudong", Province: "上海"},
			{Name: "hongqiao", Province: "Shanghai"},
		}, "浙江", 0, Choice{1, "nearest (165 km)"}},

		{"explicit coordinates override the province", []Site{
			{Name: "shanghai", Province: "上海"},
			// Registered in 上海, stocked in 乌鲁木齐.
			{Name: "urumqi", Province: "上海", Lat: 43.83, Lon: 87.62, HasCoord: true},
		}, "新疆", 0, Choice{1, "nearest (0 km)"}},
		{"explicit coordinates without a province", []Site{
			{Name: "shanghai", Province: "上海"},
			{Name: "kunming", Lat: 25.04, Lon: 102.71, HasCoord: true},
		}, "云南", 0, Choice{1, "nearest (0 km)"}},
		{"site without a position is skipped", []Site{
			{Name: "nowhere", Province: "Bavaria"},
			{Name: "shanghai", Province: "上海"},
		}, "广东", 0, Choice{1, "nearest (1,212 km)"}},
		// Were unplaced sites measured from 0,0 the first would be chosen as nearest.
		{"no site has a position", []Site{
			{Name: "nowhere", Province: "Bavaria"},
			{Name: "blank"},
		}, "广东", 1, Choice{1, "default"}},

		{"unknown province", spread, "Bavaria", 2, Choice{2, "default"}},
		{"a city is not a province", spread, "深圳市", 1, Choice{1, "default"}},
		{"empty province", spread, "", 0, Choice{0, "default"}},
		{"unknown province listed as served", []Site{
			{Name: "shanghai", Province: "上海"},
			{Name: "munich", Serves: []string{"Bavaria"}},
		}, "Bavaria", 0, Choice{0, "default"}},
		{"no sites", nil, "广东", 3, Choice{3, "default"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Choose(tc.sites, tc.receiver, tc.def); got != tc.want {
				t.Errorf("Choose(%q, def %d) = %+v, want %+v", tc.receiver, tc.def, got, tc.want)
			}
		})
	}
}

// TestChooseNearestEveryDivision checks, for a receiver in each of the 34 divisions, that the
// chosen site is at least as near as every other, and that a site in the receiver's own
// province always wins.
func TestChooseNearestEveryDivision(t *testing.T) {
	sites := []Site{
		{Name: "shanghai", Province: "上海"},
		{Name: "guangzhou", Province: "广东"},
		{Name: "chengdu", Province: "四川"},
		{Name: "beijing", Province: "北京"},
		{Name: "urumqi", Lat: 43.83, Lon: 87.62, HasCoord: true},
	}
	for _, d := range divisions {
		lat, lon, _ := Capital(d.name)
		got := Choose(sites, d.name, -1)
		if got.Index < 0 || !strings.HasPrefix(got.Why, "nearest (") {
			t.Errorf("Choose(%s) = %+v, want a nearest site", d.name, got)
			continue
		}
		gotLat, gotLon, _ := sitePosition(sites[got.Index])
		gotKm := DistanceKm(lat, lon, gotLat, gotLon)
		for i, s := range sites {
			sLat, sLon, _ := sitePosition(s)
			if km := DistanceKm(lat, lon, sLat, sLon); km < gotKm {
				t.Errorf("Choose(%s) = %s at %.0f km, but %s (%d) is %.0f km", d.name, sites[got.Index].Name, gotKm, s.Name, i, km)
			}
		}
		own := append([]Site{{Name: "far", Province: "新疆"}}, sites...)
		own = append(own, Site{Name: "own", Province: d.name})
		if c := Choose(own, d.name, -1); c.Why != "nearest (0 km)" {
			t.Errorf("Choose(%s) with a site in %s = %s (%s)", d.name, d.name, own[c.Index].Name, c.Why)
		}
	}
}

func TestSiteKm(t *testing.T) {
	for km, want := range map[float64]string{
		0: "0 km", 0.4: "0 km", 999.5: "1,000 km", 165: "165 km", 1203.4: "1,203 km",
		12345: "12,345 km", 1234567: "1,234,567 km",
	} {
		if got := siteKm(km); got != want {
			t.Errorf("siteKm(%v) = %q, want %q", km, got, want)
		}
	}
}

func ExampleChoose() {
	sites := []Site{
		{Name: "shanghai", Province: "Shanghai"},
		{Name: "guangzhou", Province: "Guangdong", Serves: []string{"Guangdong", "Guangxi", "Hainan"}},
		{Name: "chengdu", Province: "Sichuan"},
	}
	for _, receiver := range []string{"CN-GX", "Yunnan", "Heilongjiang", "Bavaria"} {
		c := Choose(sites, receiver, 0)
		fmt.Println(receiver, "->", sites[c.Index].Name, c.Why)
	}
	// Output:
	// CN-GX -> guangzhou serves 广西壮族自治区
	// Yunnan -> chengdu nearest (629 km)
	// Heilongjiang -> shanghai nearest (1,678 km)
	// Bavaria -> shanghai default
}
