package sim

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
)

// tv3 returns the create request of the TV3 vector: Kdniao's own example, which it accepts.
func tv3(t *testing.T) kdniao.CreateRequest {
	t.Helper()
	b, err := os.ReadFile("../testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			Name        string `json:"name"`
			RequestData string `json:"request_data"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	for _, v := range file.Vectors {
		if v.Name == "TV3" {
			var req kdniao.CreateRequest
			if err := json.Unmarshal([]byte(v.RequestData), &req); err != nil {
				t.Fatalf("TV3 request data: %v", err)
			}
			return req
		}
	}
	t.Fatal("testdata/vectors.json lacks TV3")
	return kdniao.CreateRequest{}
}

func TestRefusal(t *testing.T) {
	for _, c := range []struct {
		name   string
		edit   func(r *kdniao.CreateRequest)
		reason string // "" when accepted
	}{
		{"TV3 as Kdniao sends it", func(r *kdniao.CreateRequest) {}, ""},
		{"TV3 goods name keeps & and +", func(r *kdniao.CreateRequest) { r.Commodity[0].GoodsName = `鞋子 A&B+C #1 'x' "y" 100%` }, ""},
		{"municipality city with 市", func(r *kdniao.CreateRequest) { r.Receiver.CityName = "北京市"; r.Sender.CityName = "上海市" }, ""},
		{"province with city", func(r *kdniao.CreateRequest) {
			r.Receiver.ProvinceName, r.Receiver.CityName, r.Receiver.ExpAreaName = "广东省", "深圳市", "南山区"
		}, ""},
		{"autonomous region and prefecture", func(r *kdniao.CreateRequest) {
			r.Receiver.ProvinceName, r.Receiver.CityName = "新疆维吾尔自治区", "伊犁哈萨克自治州"
			r.Sender.ProvinceName, r.Sender.CityName = "西藏自治区", "阿里地区"
		}, ""},
		{"盟 and 林区", func(r *kdniao.CreateRequest) {
			r.Receiver.ProvinceName, r.Receiver.CityName = "内蒙古自治区", "锡林郭勒盟"
			r.Sender.ProvinceName, r.Sender.CityName = "湖北省", "神农架林区"
		}, ""},
		{"Taiwan county", func(r *kdniao.CreateRequest) { r.Receiver.ProvinceName, r.Receiver.CityName = "台湾省", "新竹县" }, ""},
		{"county-level city placeholder", func(r *kdniao.CreateRequest) {
			r.Receiver.ProvinceName, r.Receiver.CityName = "海南省", "省直辖县级行政区划"
		}, ""},
		{"Hong Kong city without suffix", func(r *kdniao.CreateRequest) {
			r.Receiver.ProvinceName, r.Receiver.CityName = "香港特别行政区", "九龙"
		}, ""},
		{"landline and extension", func(r *kdniao.CreateRequest) { r.Receiver.Mobile, r.Receiver.Tel = "", "010-12345678-123" }, ""},
		{"400 number", func(r *kdniao.CreateRequest) { r.Sender.Tel = "400-820-8820" }, ""},

		{"receiver province without 省", func(r *kdniao.CreateRequest) { r.Receiver.ProvinceName, r.Receiver.CityName = "广东", "深圳市" },
			"收件人省份名称不正确(Receiver.ProvinceName)"},
		{"receiver municipality with 市", func(r *kdniao.CreateRequest) { r.Receiver.ProvinceName = "北京市" },
			"收件人省份名称不正确(Receiver.ProvinceName)"},
		{"receiver province in pinyin", func(r *kdniao.CreateRequest) { r.Receiver.ProvinceName = "Beijing" },
			"收件人省份名称不正确(Receiver.ProvinceName)"},
		{"receiver autonomous region short", func(r *kdniao.CreateRequest) { r.Receiver.ProvinceName, r.Receiver.CityName = "广西", "南宁市" },
			"收件人省份名称不正确(Receiver.ProvinceName)"},
		{"receiver city without 市", func(r *kdniao.CreateRequest) { r.Receiver.ProvinceName, r.Receiver.CityName = "广东省", "深圳" },
			"收件人市名称不正确(Receiver.CityName)"},
		{"杭州 ends in 州 but is no 自治州", func(r *kdniao.CreateRequest) { r.Receiver.ProvinceName, r.Receiver.CityName = "浙江省", "杭州" },
			"收件人市名称不正确(Receiver.CityName)"},
		{"receiver city in pinyin", func(r *kdniao.CreateRequest) { r.Receiver.ProvinceName, r.Receiver.CityName = "广东省", "Shenzhen" },
			"收件人市名称不正确(Receiver.CityName)"},
		{"receiver district as city", func(r *kdniao.CreateRequest) { r.Receiver.ProvinceName, r.Receiver.CityName = "广东省", "南山区" },
			"收件人市名称不正确(Receiver.CityName)"},
		{"municipality with another city", func(r *kdniao.CreateRequest) { r.Receiver.CityName = "上海市" },
			"收件人市名称不正确(Receiver.CityName)"},
		{"municipality with 市辖区", func(r *kdniao.CreateRequest) { r.Receiver.CityName = "市辖区" },
			"收件人市名称不正确(Receiver.CityName)"},
		{"bare suffix", func(r *kdniao.CreateRequest) { r.Receiver.ProvinceName, r.Receiver.CityName = "广东省", "市" },
			"收件人市名称不正确(Receiver.CityName)"},
		{"receiver short mobile", func(r *kdniao.CreateRequest) { r.Receiver.Mobile = "1501844239" },
			"收件人手机号码不正确(Receiver.Mobile)"},
		{"receiver mobile starting 12", func(r *kdniao.CreateRequest) { r.Receiver.Mobile = "12018442396" },
			"收件人手机号码不正确(Receiver.Mobile)"},
		{"receiver mobile with +86", func(r *kdniao.CreateRequest) { r.Receiver.Mobile = "+8615018442396" },
			"收件人手机号码不正确(Receiver.Mobile)"},
		{"receiver mobile with dashes", func(r *kdniao.CreateRequest) { r.Receiver.Mobile = "150-1844-2396" },
			"收件人手机号码不正确(Receiver.Mobile)"},
		{"receiver tel with parentheses", func(r *kdniao.CreateRequest) { r.Receiver.Tel = "(0755)86001234" },
			"收件人电话号码不正确(Receiver.Tel)"},
		{"receiver tel with 转", func(r *kdniao.CreateRequest) { r.Receiver.Tel = "010-12345678转123" },
			"收件人电话号码不正确(Receiver.Tel)"},
		{"receiver address with #", func(r *kdniao.CreateRequest) { r.Receiver.Address = "三里屯3#楼" },
			"收件人详细地址包含非法字符(Receiver.Address)"},
		{"receiver address with &", func(r *kdniao.CreateRequest) { r.Receiver.Address = "A&B大厦" },
			"收件人详细地址包含非法字符(Receiver.Address)"},
		{"receiver address with quotes", func(r *kdniao.CreateRequest) { r.Receiver.Address = `雅秀"大厦"` },
			"收件人详细地址包含非法字符(Receiver.Address)"},
		{"receiver address with + < > % \\ '", func(r *kdniao.CreateRequest) { r.Receiver.Address = `1+1<2>0% \ 'x'` },
			"收件人详细地址包含非法字符(Receiver.Address)"},
		{"receiver address with a tab", func(r *kdniao.CreateRequest) { r.Receiver.Address = "三里屯\t雅秀大厦" },
			"收件人详细地址包含非法字符(Receiver.Address)"},
		{"receiver address with a newline", func(r *kdniao.CreateRequest) { r.Receiver.Address = "三里屯\n雅秀大厦" },
			"收件人详细地址包含非法字符(Receiver.Address)"},
		{"receiver checked before sender", func(r *kdniao.CreateRequest) { r.Receiver.CityName, r.Sender.ProvinceName = "Beijing", "x" },
			"收件人市名称不正确(Receiver.CityName)"},

		{"sender province unknown", func(r *kdniao.CreateRequest) { r.Sender.ProvinceName = "Shanghai" },
			"寄件人省份名称不正确(Sender.ProvinceName)"},
		{"sender empty province", func(r *kdniao.CreateRequest) { r.Sender.ProvinceName = "" },
			"寄件人省份名称不正确(Sender.ProvinceName)"},
		{"sender city without 市", func(r *kdniao.CreateRequest) { r.Sender.ProvinceName, r.Sender.CityName = "江苏省", "苏州" },
			"寄件人市名称不正确(Sender.CityName)"},
		{"sender empty city", func(r *kdniao.CreateRequest) { r.Sender.CityName = "" },
			"寄件人市名称不正确(Sender.CityName)"},
		{"sender mobile", func(r *kdniao.CreateRequest) { r.Sender.Mobile = "5018442396" },
			"寄件人手机号码不正确(Sender.Mobile)"},
		{"sender tel", func(r *kdniao.CreateRequest) { r.Sender.Tel = "021 6888 1234" },
			"寄件人电话号码不正确(Sender.Tel)"},
		{"sender address", func(r *kdniao.CreateRequest) { r.Sender.Address = "明珠路73#" },
			"寄件人详细地址包含非法字符(Sender.Address)"},
		{"sender address control character", func(r *kdniao.CreateRequest) { r.Sender.Address = "明珠路\x0073号" },
			"寄件人详细地址包含非法字符(Sender.Address)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := tv3(t)
			c.edit(&req)
			code, reason := refusal(req)
			wantCode := codeValidation
			if c.reason == "" {
				wantCode = ""
			}
			if code != wantCode || reason != c.reason {
				t.Errorf("refusal = %q, %q; want %q, %q", code, reason, wantCode, c.reason)
			}
		})
	}
}
