package sim

import (
	"strings"
	"unicode"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
)

// refusal says why Kdniao would refuse req's addresses, or "" when it would not: ResultCode and Reason.
// The receiver is checked before the sender, each field in the order Kdniao documents them, and
// the reason names the first field refused (收件人市名称不正确(Receiver.CityName)) but never its
// value: answers end up in logs and dead letters.
func refusal(req kdniao.CreateRequest) (code, reason string) {
	if reason := addressRefusal(req.Receiver, "收件人", "Receiver"); reason != "" {
		return codeValidation, reason
	}
	if reason := addressRefusal(req.Sender, "寄件人", "Sender"); reason != "" {
		return codeValidation, reason
	}
	return "", ""
}

// addressRefusal returns the reason Kdniao refuses a, or "". who is the party in Chinese, as
// Kdniao's messages say it; field is the JSON name of a in the request.
func addressRefusal(a kdniao.Address, who, field string) string {
	switch {
	case !kdniaoProvince(a.ProvinceName):
		return who + "省份名称不正确(" + field + ".ProvinceName)"
	case !kdniaoCity(a.ProvinceName, a.CityName):
		return who + "市名称不正确(" + field + ".CityName)"
	case a.Mobile != "" && !mainlandMobile(a.Mobile):
		return who + "手机号码不正确(" + field + ".Mobile)"
	case a.Tel != "" && strings.Trim(a.Tel, "0123456789-") != "":
		return who + "电话号码不正确(" + field + ".Tel)"
	case strings.ContainsAny(a.Address, `'"#&+<>%\`) || strings.IndexFunc(a.Address, unicode.IsControl) >= 0:
		// The characters that break a double-encoded form or the carrier's label parser; other
		// fields (GoodsName: 鞋子 A&B+C in Kdniao's own example) may carry them.
		return who + "详细地址包含非法字符(" + field + ".Address)"
	}
	return ""
}

// kdniaoProvince reports whether name is how Kdniao names one of China's 34 provincial-level
// divisions: municipalities bare (北京, as in Kdniao's own example), provinces with 省,
// autonomous regions and SARs in full.
func kdniaoProvince(name string) bool {
	switch name {
	case "北京", "天津", "上海", "重庆",
		"河北省", "山西省", "辽宁省", "吉林省", "黑龙江省", "江苏省", "浙江省", "安徽省", "福建省", "江西省",
		"山东省", "河南省", "湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省",
		"甘肃省", "青海省", "台湾省",
		"内蒙古自治区", "广西壮族自治区", "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区",
		"香港特别行政区", "澳门特别行政区":
		return true
	}
	return false
}

// kdniaoCity reports whether city is a city name Kdniao accepts in province: one with its
// suffix (深圳市, not 深圳; 延边朝鲜族自治州, 阿里地区, 锡林郭勒盟, 神农架林区, Taiwan's 新竹县), a
// municipality's own name bare or with 市 (Kdniao's own example sends 北京 and 上海), the
// placeholders of county-level cities under a province, or any city of Hong Kong and Macau
// (九龙, 澳门半岛 have no suffix).
func kdniaoCity(province, city string) bool {
	switch province {
	case "北京", "天津", "上海", "重庆":
		return city == province || city == province+"市"
	case "香港特别行政区", "澳门特别行政区":
		return city != ""
	}
	if city == "省直辖县级行政区划" || city == "自治区直辖县级行政区划" {
		return true
	}
	for _, suffix := range []string{"市", "自治州", "盟", "地区", "林区", "县"} {
		if strings.HasSuffix(city, suffix) && city != suffix {
			return true
		}
	}
	return false
}

// mainlandMobile reports whether m is a mainland mobile number: 11 digits starting 1[3-9].
func mainlandMobile(m string) bool {
	return len(m) == 11 && m[0] == '1' && '3' <= m[1] && m[1] <= '9' && strings.Trim(m, "0123456789") == ""
}
