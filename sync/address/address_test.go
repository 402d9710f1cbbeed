package address

import "testing"

func TestProvince(t *testing.T) {
	for in, want := range map[string]string{
		"Beijing": "北京", "beijing shi": "北京", "北京市": "北京", "北京": "北京", "CN-BJ": "北京", "CN-11": "北京",
		"Guangdong": "广东省", "GUANGDONG SHENG": "广东省", "广东": "广东省", "广东省": "广东省", "GD": "广东省",
		"Shaanxi": "陕西省", "Shanxi": "山西省", "Inner Mongolia": "内蒙古自治区", "Nei Mongol": "内蒙古自治区",
		"Tibet": "西藏自治区", "西藏": "西藏自治区", "Xinjiang Uyghur Autonomous Region": "新疆维吾尔自治区",
		"Guangxi Zhuang": "广西壮族自治区", "Hong Kong": "香港特别行政区", "Macao": "澳门特别行政区",
		"  Zhejiang  ": "浙江省", "Zhejiang-Sheng": "浙江省",
		// Not a province: unchanged, for the carrier to judge.
		"Bavaria": "Bavaria", "": "", "深圳市": "深圳市",
	} {
		if got := Province(in); got != want {
			t.Errorf("Province(%q) = %q, want %q", in, got, want)
		}
	}
	if n := len(divisions); n != 34 {
		t.Errorf("%d divisions, China has 34 at provincial level", n)
	}
	seen := map[string]string{}
	for _, d := range divisions {
		for _, a := range append([]string{d.name}, d.aliases...) {
			if other, ok := seen[normal(a)]; ok && other != d.name {
				t.Errorf("alias %q names both %s and %s", a, other, d.name)
			}
			seen[normal(a)] = d.name
		}
	}
}

func TestDomestic(t *testing.T) {
	for _, c := range []string{"", "CN", "cn", "CHN", "China", "中国", "People's Republic of China", " china "} {
		if !Domestic(c) {
			t.Errorf("Domestic(%q) = false", c)
		}
	}
	for _, c := range []string{"US", "United States", "Hong Kong", "TW", "DE", "日本"} {
		if Domestic(c) {
			t.Errorf("Domestic(%q) = true", c)
		}
	}
}
