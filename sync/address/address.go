// Package address puts a receiver's address the way Chinese carriers accept it: the country
// told apart (a foreign address is never sent as a domestic waybill) and province names in
// Chinese, whatever the shop stores (OpenCart and Zen Cart keep English zone names, PrestaShop
// and Magento region names or codes). It does no I/O.
package address

import (
	"strings"
	"unicode"
)

// Domestic reports whether country (as a shop stores it: an ISO code, an English or Chinese
// name, or nothing) is mainland China. Empty is domestic: shops with one country store none.
func Domestic(country string) bool {
	switch normal(country) {
	case "", "cn", "chn", "156", "china", "peoples republic of china", "people s republic of china",
		"prc", "中国", "中华人民共和国", "中国大陆", "mainland china":
		return true
	}
	return false
}

// Province returns the province as Kdniao names it (北京, 广东省, 广西壮族自治区, ...) when name is
// one of China's provincial-level divisions in English, pinyin, Chinese with or without its
// suffix, or an ISO 3166-2:CN code (CN-GD, GD); otherwise name unchanged.
func Province(name string) string {
	if p, ok := provinces[normal(name)]; ok {
		return p
	}
	return name
}

// normal lower-cases, drops punctuation and spaces at the ends, and folds inner runs of spaces
// and punctuation to one space, so "Guangdong Sheng", "guangdong-sheng" and " GUANGDONG " meet.
func normal(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
		default:
			space = true
		}
	}
	return b.String()
}

// division is one provincial-level division: Kdniao's name, then every other spelling.
type division struct {
	name    string
	aliases []string
}

// divisions: the 34 provincial-level divisions. Municipalities are written without 市 (as
// Kdniao's own examples write 北京, 上海), provinces with 省, autonomous regions and the SARs in
// full.
var divisions = []division{
	{"北京", []string{"北京市", "beijing", "beijing shi", "peking", "bj", "cn bj", "cn 11"}},
	{"天津", []string{"天津市", "tianjin", "tianjin shi", "tj", "cn tj", "cn 12"}},
	{"上海", []string{"上海市", "shanghai", "shanghai shi", "sh", "cn sh", "cn 31"}},
	{"重庆", []string{"重庆市", "chongqing", "chongqing shi", "chungking", "cq", "cn cq", "cn 50"}},
	{"河北省", []string{"河北", "hebei", "hebei sheng", "he", "cn he", "cn 13"}},
	{"山西省", []string{"山西", "shanxi", "shanxi sheng", "sx", "cn sx", "cn 14"}},
	{"辽宁省", []string{"辽宁", "liaoning", "liaoning sheng", "ln", "cn ln", "cn 21"}},
	{"吉林省", []string{"吉林", "jilin", "jilin sheng", "jl", "cn jl", "cn 22"}},
	{"黑龙江省", []string{"黑龙江", "heilongjiang", "heilongjiang sheng", "hl", "cn hl", "cn 23"}},
	{"江苏省", []string{"江苏", "jiangsu", "jiangsu sheng", "js", "cn js", "cn 32"}},
	{"浙江省", []string{"浙江", "zhejiang", "zhejiang sheng", "zj", "cn zj", "cn 33"}},
	{"安徽省", []string{"安徽", "anhui", "anhui sheng", "ah", "cn ah", "cn 34"}},
	{"福建省", []string{"福建", "fujian", "fujian sheng", "fj", "cn fj", "cn 35"}},
	{"江西省", []string{"江西", "jiangxi", "jiangxi sheng", "jx", "cn jx", "cn 36"}},
	{"山东省", []string{"山东", "shandong", "shandong sheng", "sd", "cn sd", "cn 37"}},
	{"河南省", []string{"河南", "henan", "henan sheng", "ha", "cn ha", "cn 41"}},
	{"湖北省", []string{"湖北", "hubei", "hubei sheng", "hb", "cn hb", "cn 42"}},
	{"湖南省", []string{"湖南", "hunan", "hunan sheng", "hn", "cn hn", "cn 43"}},
	{"广东省", []string{"广东", "guangdong", "guangdong sheng", "canton", "gd", "cn gd", "cn 44"}},
	{"海南省", []string{"海南", "hainan", "hainan sheng", "hi", "cn hi", "cn 46"}},
	{"四川省", []string{"四川", "sichuan", "sichuan sheng", "szechuan", "sc", "cn sc", "cn 51"}},
	{"贵州省", []string{"贵州", "guizhou", "guizhou sheng", "gz", "cn gz", "cn 52"}},
	{"云南省", []string{"云南", "yunnan", "yunnan sheng", "yn", "cn yn", "cn 53"}},
	{"陕西省", []string{"陕西", "shaanxi", "shaanxi sheng", "shensi", "sn", "cn sn", "cn 61"}},
	{"甘肃省", []string{"甘肃", "gansu", "gansu sheng", "gs", "cn gs", "cn 62"}},
	{"青海省", []string{"青海", "qinghai", "qinghai sheng", "qh", "cn qh", "cn 63"}},
	{"台湾省", []string{"台湾", "臺灣", "taiwan", "taiwan sheng", "tw", "cn tw", "cn 71"}},
	{"内蒙古自治区", []string{"内蒙古", "inner mongolia", "nei mongol", "nei menggu", "neimenggu", "inner mongolia autonomous region", "nm", "cn nm", "cn 15"}},
	{"广西壮族自治区", []string{"广西", "广西自治区", "guangxi", "guangxi zhuang", "guangxi zhuang autonomous region", "gx", "cn gx", "cn 45"}},
	{"西藏自治区", []string{"西藏", "tibet", "xizang", "tibet autonomous region", "xizang autonomous region", "xz", "cn xz", "cn 54"}},
	{"宁夏回族自治区", []string{"宁夏", "宁夏自治区", "ningxia", "ningxia hui", "ningxia hui autonomous region", "nx", "cn nx", "cn 64"}},
	{"新疆维吾尔自治区", []string{"新疆", "新疆自治区", "xinjiang", "xinjiang uygur", "xinjiang uyghur", "xinjiang uygur autonomous region", "xinjiang uyghur autonomous region", "xj", "cn xj", "cn 65"}},
	{"香港特别行政区", []string{"香港", "hong kong", "hongkong", "hong kong sar", "xianggang", "hk", "cn hk", "cn 91"}},
	{"澳门特别行政区", []string{"澳门", "macau", "macao", "macau sar", "macao sar", "aomen", "mo", "cn mo", "cn 92"}},
}

var provinces = func() map[string]string {
	m := map[string]string{}
	for _, d := range divisions {
		m[normal(d.name)] = d.name
		for _, a := range d.aliases {
			m[normal(a)] = d.name
		}
	}
	return m
}()
