package address

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// normalizeCases are messy addresses as shops store them. Parts literals are positional:
// {Name, Mobile, Phone, Province, City, District, Street, Postcode}. A case wants either the
// Parts or, when field is set, a *FieldError naming that field.
var normalizeCases = []struct {
	name  string
	in    Parts
	want  Parts
	field string
}{
	{"already clean",
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科技园南区W1-A栋", "518057"},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科技园南区W1-A栋", "518057"}, ""},
	{"province city district repeated in street",
		Parts{"张伟", "13812345678", "", "广东", "深圳", "南山区", "广东省深圳市南山区科技园科苑路15号", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科技园科苑路15号", ""}, ""},
	{"short names repeated in street",
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "广东深圳南山区高新南一道8号", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "高新南一道8号", ""}, ""},
	{"city repeated twice",
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "深圳市深圳市南山区粤海街道", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "粤海街道", ""}, ""},
	{"separators between repeated names",
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "广东省，深圳市，南山区，科技园", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科技园", ""}, ""},
	{"street of division names only is kept",
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "广东省深圳市南山区", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "广东省深圳市南山区", ""}, ""},
	{"street that starts with the short city name is a street",
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "深圳湾一号T7栋", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "深圳湾一号T7栋", ""}, ""},
	{"pinyin province, city without 市",
		Parts{"陈静", "13912345678", "", "Guangdong", "广州", "天河区", "天河路385号太古汇", ""},
		Parts{"陈静", "13912345678", "", "广东省", "广州市", "天河区", "天河路385号太古汇", ""}, ""},
	{"ISO code province, 广州大道 keeps 广州",
		Parts{"陈静", "13912345678", "", "GD", "广州市", "越秀区", "广州大道中289号", ""},
		Parts{"陈静", "13912345678", "", "广东省", "广州市", "越秀区", "广州大道中289号", ""}, ""},
	{"杭州 is a city, not an autonomous prefecture",
		Parts{"刘洋", "15012345678", "", "浙江", "杭州", "西湖区", "文三路90号", "310012"},
		Parts{"刘洋", "15012345678", "", "浙江省", "杭州市", "西湖区", "文三路90号", "310012"}, ""},
	{"北京 北京市 朝阳区 in street",
		Parts{"王芳", "13612345678", "", "北京", "北京", "朝阳区", "北京 北京市 朝阳区 建国路88号SOHO现代城", ""},
		Parts{"王芳", "13612345678", "", "北京", "北京市", "朝阳区", "建国路88号SOHO现代城", ""}, ""},
	{"municipality province from city",
		Parts{"赵磊", "13712345678", "", "", "上海市", "浦东新区", "上海市浦东新区张江路100号", ""},
		Parts{"赵磊", "13712345678", "", "上海", "上海市", "浦东新区", "张江路100号", ""}, ""},
	{"municipality city 市辖区",
		Parts{"孙丽", "13712345678", "", "天津市", "市辖区", "和平区", "南京路189号", "300051"},
		Parts{"孙丽", "13712345678", "", "天津", "天津市", "和平区", "南京路189号", "300051"}, ""},
	{"municipality city holding the district",
		Parts{"周杰", "18612345678", "", "重庆", "渝中区", "", "解放碑步行街8号", ""},
		Parts{"周杰", "18612345678", "", "重庆", "重庆市", "渝中区", "解放碑步行街8号", ""}, ""},
	{"municipality city holding something else, district set",
		Parts{"周杰", "18612345678", "", "上海", "浦东新区", "张江镇", "祖冲之路887号", ""},
		Parts{"周杰", "18612345678", "", "上海", "上海市", "张江镇", "浦东新区 祖冲之路887号", ""}, ""},
	{"municipality county 县",
		Parts{"周杰", "18612345678", "", "重庆", "县", "城口县", "葛城街道北大街1号", ""},
		Parts{"周杰", "18612345678", "", "重庆", "重庆市", "城口县", "葛城街道北大街1号", ""}, ""},
	{"pinyin municipality",
		Parts{"Zhou Min", "18612345678", "", "Shanghai", "Shanghai", "静安区", "南京西路1266号恒隆广场", ""},
		Parts{"Zhou Min", "18612345678", "", "上海", "上海市", "静安区", "南京西路1266号恒隆广场", ""}, ""},
	{"bare district passed through, 朝阳路 kept",
		Parts{"王芳", "13612345678", "", "北京市", "北京市", "朝阳", "朝阳路甲14号", ""},
		Parts{"王芳", "13612345678", "", "北京", "北京市", "朝阳", "朝阳路甲14号", ""}, ""},
	{"full-width spaces, letters and digits",
		Parts{"李娜", "13812345678", "", "广东省", "深圳市", "南山区", "科技园　南区　Ｗ１栋３０１室", "５１８０５７"},
		Parts{"李娜", "13812345678", "", "广东省", "深圳市", "南山区", "科技园 南区 W1栋301室", "518057"}, ""},
	{"tabs and newlines in street and name",
		Parts{"王\t小明\n", "13812345678", "", "广东省\n", " 深圳市\t", "南山区", "科苑路\t15号\n\n讯美科技广场 2号楼\r\n", ""},
		Parts{"王 小明", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路 15号 讯美科技广场 2号楼", ""}, ""},
	{"# after a building number",
		Parts{"黄磊", "13812345678", "", "广东省", "深圳市", "龙岗区", "坂田街道岗头社区天安云谷3#楼1203", ""},
		Parts{"黄磊", "13812345678", "", "广东省", "深圳市", "龙岗区", "坂田街道岗头社区天安云谷3号楼1203", ""}, ""},
	{"full-width ＃ after a number",
		Parts{"黄磊", "13812345678", "", "上海", "上海市", "浦东新区", "金桥路12＃", ""},
		Parts{"黄磊", "13812345678", "", "上海", "上海市", "浦东新区", "金桥路12号", ""}, ""},
	{"# before a room number",
		Parts{"黄磊", "13812345678", "", "浙江省", "杭州市", "拱墅区", "翠苑小区 #302", ""},
		Parts{"黄磊", "13812345678", "", "浙江省", "杭州市", "拱墅区", "翠苑小区 302", ""}, ""},
	{"& in company name",
		Parts{"A&B贸易有限公司 王经理", "13812345678", "", "江苏省", "南京市", "鼓楼区", "中山路100号 A&B大厦", ""},
		Parts{"A B贸易有限公司 王经理", "13812345678", "", "江苏省", "南京市", "鼓楼区", "中山路100号 A B大厦", ""}, ""},
	{"quotes, angle brackets, percent, plus, backslash",
		Parts{"Tom \"T\" O'Neil", "13812345678", "", "四川省", "成都市", "武侯区", `人民路"88"号 <东门> 100%+ 'B'座\`, ""},
		Parts{"Tom T O Neil", "13812345678", "", "四川省", "成都市", "武侯区", "人民路 88 号 东门 100 B 座", ""}, ""},
	{"full-width twins of refused characters",
		Parts{"＜李＞＂四＂", "13812345678", "", "湖北省", "武汉市", "洪山区", "珞喻路＆关山大道＋＇１＇％＼", ""},
		Parts{"李 四", "13812345678", "", "湖北省", "武汉市", "洪山区", "珞喻路 关山大道 1", ""}, ""},
	{"control and zero-width characters",
		Parts{"张\x00伟", "13812345678", "", "北京", "北京市", "海淀区", "\ufeff学院路\x00\x0730号\u200b", ""},
		Parts{"张伟", "13812345678", "", "北京", "北京市", "海淀区", "学院路30号", ""}, ""},
	{"+86 mobile with spaces",
		Parts{"张伟", "+86 138 1234 5678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"dashed mobile",
		Parts{"张伟", "138-1234-5678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"0086 mobile",
		Parts{"张伟", "0086-139.1234.5678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""},
		Parts{"张伟", "13912345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"86 prefix without plus",
		Parts{"张伟", "8615012345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""},
		Parts{"张伟", "15012345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"(+86) and full-width digits",
		Parts{"张伟", "（+86）１３８　１２３４　５６７８", "", "广东省", "深圳市", "南山区", "科苑路15号", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"landline in the mobile column",
		Parts{"张伟", "(0755)86001234", "", "广东省", "深圳市", "南山区", "科苑路15号", ""},
		Parts{"张伟", "", "0755-86001234", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"landline in the mobile column, phone already set",
		Parts{"张伟", "021-68881234", "021 6888 5678", "上海", "上海市", "浦东新区", "张江路100号", ""},
		Parts{"张伟", "", "021-68885678", "上海", "上海市", "浦东新区", "张江路100号", ""}, ""},
	{"extension written 转",
		Parts{"某某公司前台", "", "010-12345678转123", "北京", "北京市", "朝阳区", "建国路88号", ""},
		Parts{"某某公司前台", "", "010-12345678-123", "北京", "北京市", "朝阳区", "建国路88号", ""}, ""},
	{"extension with a dash",
		Parts{"张伟", "", "0755-86001234-8001", "广东省", "深圳市", "南山区", "科苑路15号", ""},
		Parts{"张伟", "", "0755-86001234-8001", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"extension written x",
		Parts{"张伟", "", "0755 8600 1234 x 12", "广东省", "深圳市", "南山区", "科苑路15号", ""},
		Parts{"张伟", "", "0755-86001234-12", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"+86 landline loses the trunk 0",
		Parts{"张伟", "", "+86 21 6888 1234", "上海", "上海市", "黄浦区", "南京东路1号", ""},
		Parts{"张伟", "", "021-68881234", "上海", "上海市", "黄浦区", "南京东路1号", ""}, ""},
	{"400 number",
		Parts{"客服", "", "4008208820", "上海", "上海市", "徐汇区", "漕溪北路88号", ""},
		Parts{"客服", "", "400-820-8820", "上海", "上海市", "徐汇区", "漕溪北路88号", ""}, ""},
	{"800 number with spaces",
		Parts{"客服", "", "800 810 8888", "上海", "上海市", "徐汇区", "漕溪北路88号", ""},
		Parts{"客服", "", "800-810-8888", "上海", "上海市", "徐汇区", "漕溪北路88号", ""}, ""},
	{"mobile in the phone column",
		Parts{"张伟", "", "139 1234 5678", "广东省", "深圳市", "南山区", "科苑路15号", ""},
		Parts{"张伟", "13912345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"invalid mobile, valid phone",
		Parts{"张伟", "12345", "0571-87654321", "浙江省", "杭州市", "西湖区", "文三路90号", ""},
		Parts{"张伟", "", "0571-87654321", "浙江省", "杭州市", "西湖区", "文三路90号", ""}, ""},
	{"valid mobile, invalid phone dropped",
		Parts{"张伟", "13812345678", "12345", "浙江省", "杭州市", "西湖区", "文三路90号", ""},
		Parts{"张伟", "13812345678", "", "浙江省", "杭州市", "西湖区", "文三路90号", ""}, ""},
	{"short mobile, no phone", Parts{"张伟", "1381234567", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, Parts{}, fieldMobile},
	{"mobile starting 12", Parts{"张伟", "12812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, Parts{}, fieldMobile},
	{"Hong Kong mobile is not mainland", Parts{"陈大文", "+852 9123 4567", "", "香港", "九龙", "油尖旺区", "弥敦道100号", ""}, Parts{}, fieldMobile},
	{"no number at all", Parts{"张伟", " ", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, Parts{}, fieldMobile},
	{"phone without area code", Parts{"张伟", "", "86001234", "广东省", "深圳市", "南山区", "科苑路15号", ""}, Parts{}, fieldPhone},
	{"empty name", Parts{"", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, Parts{}, fieldName},
	{"name of spaces", Parts{" \t\u3000", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, Parts{}, fieldName},
	{"name of refused characters", Parts{"&&", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, Parts{}, fieldName},
	{"street empty after cleaning", Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "### \t&", ""}, Parts{}, fieldStreet},
	{"empty street", Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "", ""}, Parts{}, fieldStreet},
	{"unknown province", Parts{"Hans", "13812345678", "", "Bavaria", "München", "", "Marienplatz 1", ""}, Parts{}, fieldProvince},
	{"no province, city not a municipality", Parts{"张伟", "13812345678", "", "", "深圳市", "南山区", "科苑路15号", ""}, Parts{}, fieldProvince},
	{"no city", Parts{"张伟", "13812345678", "", "广东省", "", "南山区", "科苑路15号", ""}, Parts{}, fieldCity},
	{"district in the city column", Parts{"张伟", "13812345678", "", "广东省", "南山区", "", "科苑路15号", ""}, Parts{}, fieldCity},
	{"Xinjiang",
		Parts{"艾力", "13912345678", "", "新疆", "乌鲁木齐", "天山区", "新疆乌鲁木齐市天山区解放北路88号", "830000"},
		Parts{"艾力", "13912345678", "", "新疆维吾尔自治区", "乌鲁木齐市", "天山区", "解放北路88号", "830000"}, ""},
	{"Inner Mongolia",
		Parts{"巴特尔", "13912345678", "", "Inner Mongolia", "呼和浩特", "新城区", "内蒙古自治区呼和浩特市新城区新华大街1号", ""},
		Parts{"巴特尔", "13912345678", "", "内蒙古自治区", "呼和浩特市", "新城区", "新华大街1号", ""}, ""},
	{"Tibet, 北京中路 is a street",
		Parts{"次仁", "13912345678", "", "Tibet", "拉萨市", "城关区", "北京中路 12号", ""},
		Parts{"次仁", "13912345678", "", "西藏自治区", "拉萨市", "城关区", "北京中路 12号", ""}, ""},
	{"Guangxi",
		Parts{"韦小宝", "13912345678", "", "广西", "南宁", "青秀区", "民族大道136号", "530022"},
		Parts{"韦小宝", "13912345678", "", "广西壮族自治区", "南宁市", "青秀区", "民族大道136号", "530022"}, ""},
	{"Ningxia",
		Parts{"马兰", "13912345678", "", "Ningxia", "银川", "兴庆区", "宁夏回族自治区银川市兴庆区解放西街2号", ""},
		Parts{"马兰", "13912345678", "", "宁夏回族自治区", "银川市", "兴庆区", "解放西街2号", ""}, ""},
	{"autonomous prefecture",
		Parts{"金哲", "13912345678", "", "吉林", "延边朝鲜族自治州", "延吉市", "延吉市光明街100号", ""},
		Parts{"金哲", "13912345678", "", "吉林省", "延边朝鲜族自治州", "延吉市", "光明街100号", ""}, ""},
	{"地区",
		Parts{"扎西", "13912345678", "", "西藏", "阿里地区", "噶尔县", "狮泉河镇北京路1号", ""},
		Parts{"扎西", "13912345678", "", "西藏自治区", "阿里地区", "噶尔县", "狮泉河镇北京路1号", ""}, ""},
	{"盟",
		Parts{"苏和", "13912345678", "", "内蒙古", "锡林郭勒盟", "锡林浩特市", "额尔敦路5号", ""},
		Parts{"苏和", "13912345678", "", "内蒙古自治区", "锡林郭勒盟", "锡林浩特市", "额尔敦路5号", ""}, ""},
	{"林区",
		Parts{"刘强", "13912345678", "", "湖北", "神农架林区", "松柏镇", "神农大道1号", ""},
		Parts{"刘强", "13912345678", "", "湖北省", "神农架林区", "松柏镇", "神农大道1号", ""}, ""},
	{"county-level city as district",
		Parts{"顾明", "13912345678", "", "江苏", "苏州", "昆山市", "江苏省苏州市昆山市前进中路1号", "215300"},
		Parts{"顾明", "13912345678", "", "江苏省", "苏州市", "昆山市", "前进中路1号", "215300"}, ""},
	{"省直辖县级行政区划",
		Parts{"符海", "13912345678", "", "海南", "省直辖县级行政区划", "琼海市", "嘉积镇爱华路1号", ""},
		Parts{"符海", "13912345678", "", "海南省", "省直辖县级行政区划", "琼海市", "嘉积镇爱华路1号", ""}, ""},
	{"自治区直辖县级行政区划",
		Parts{"李军", "13912345678", "", "新疆维吾尔自治区", "自治区直辖县级行政区划", "石河子市", "北四路1号", ""},
		Parts{"李军", "13912345678", "", "新疆维吾尔自治区", "自治区直辖县级行政区划", "石河子市", "北四路1号", ""}, ""},
	{"吉林省吉林市",
		Parts{"张伟", "13812345678", "", "吉林省", "吉林", "船营区", "吉林省吉林市船营区北京路88号", ""},
		Parts{"张伟", "13812345678", "", "吉林省", "吉林市", "船营区", "北京路88号", ""}, ""},
	{"Hong Kong",
		Parts{"陈大文", "13812345678", "", "Hong Kong", "九龙", "油尖旺区", "弥敦道100号", ""},
		Parts{"陈大文", "13812345678", "", "香港特别行政区", "九龙", "油尖旺区", "弥敦道100号", ""}, ""},
	{"Macau",
		Parts{"何鸿", "13812345678", "", "澳门", "澳门半岛", "", "新马路10号", ""},
		Parts{"何鸿", "13812345678", "", "澳门特别行政区", "澳门半岛", "", "新马路10号", ""}, ""},
	{"Taiwan city",
		Parts{"林志玲", "13812345678", "", "Taiwan", "台北", "信义区", "信义路五段7号", ""},
		Parts{"林志玲", "13812345678", "", "台湾省", "台北市", "信义区", "信义路五段7号", ""}, ""},
	{"Taiwan county",
		Parts{"林志玲", "13812345678", "", "台湾", "新竹县", "竹北市", "光明六路10号", ""},
		Parts{"林志玲", "13812345678", "", "台湾省", "新竹县", "竹北市", "光明六路10号", ""}, ""},
	{"Latin city passed through",
		Parts{"Li Wei", "13812345678", "", "Guangdong", "Shenzhen", "Nanshan", "Keyuan Rd 15", ""},
		Parts{"Li Wei", "13812345678", "", "广东省", "Shenzhen", "Nanshan", "Keyuan Rd 15", ""}, ""},
	{"province in the city column",
		Parts{"张伟", "13812345678", "", "广东省", "广东省深圳市", "南山区", "科苑路15号", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"space inside a city name",
		Parts{"张伟", "13812345678", "", "广东省", "深圳 市", "南 山区", "科苑路15号", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"city in the district column",
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "深圳市南山区", "深圳市南山区科苑路15号", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
	{"city without districts",
		Parts{"张伟", "13812345678", "", "广东省", "东莞", "东莞市", "东莞市长安镇振安路1号", ""},
		Parts{"张伟", "13812345678", "", "广东省", "东莞市", "东莞市", "长安镇振安路1号", ""}, ""},
	{"postcode with words",
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", "邮编：518 057"},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", "518057"}, ""},
	{"leading dash kept when nothing is removed",
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "-1栋 科苑路15号", ""},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "-1栋 科苑路15号", ""}, ""},
	{"short postcode dropped",
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", "51805"},
		Parts{"张伟", "13812345678", "", "广东省", "深圳市", "南山区", "科苑路15号", ""}, ""},
}

func TestNormalize(t *testing.T) {
	if n := len(normalizeCases); n < 50 {
		t.Fatalf("%d cases, want at least 50", n)
	}
	for _, c := range normalizeCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Normalize(c.in)
			if c.field == "" {
				if err != nil {
					t.Fatalf("Normalize(%q) = %v", c.in, err)
				}
				if got != c.want {
					t.Errorf("Normalize(%q)\n got %q\nwant %q", c.in, got, c.want)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Normalize(%q) = %q, %v; want a *FieldError for %s", c.in, got, err, c.field)
			}
			if fe.Field != c.field {
				t.Errorf("Normalize(%q) error %q names %s, want %s", c.in, err, fe.Field, c.field)
			}
			if got != (Parts{}) {
				t.Errorf("Normalize(%q) = %q with an error, want zero Parts", c.in, got)
			}
			// Reasons go to dead letters and logs: never a whole phone number.
			for _, n := range []string{digits(c.in.Mobile), digits(c.in.Phone)} {
				if len(n) > 4 && strings.Contains(err.Error(), n) {
					t.Errorf("error %q shows the number %s", err, n)
				}
			}
		})
	}
}

// TestNormalizeIdempotent: normalising twice changes nothing, so an address can be normalised
// wherever it passes without drifting.
func TestNormalizeIdempotent(t *testing.T) {
	for _, c := range normalizeCases {
		once, err := Normalize(c.in)
		if err != nil {
			continue
		}
		twice, err := Normalize(once)
		if err != nil || twice != once {
			t.Errorf("%s: Normalize(%q) = %q, %v; want it unchanged", c.name, once, twice, err)
		}
	}
}

func TestFieldErrorReason(t *testing.T) {
	for _, c := range []struct {
		in   Parts
		want string
	}{
		{Parts{Name: "张伟", Mobile: "1381234567", Province: "广东省", City: "深圳市", Street: "科苑路15号"},
			"receiver_mobile: ***4567 is not a mainland mobile number (11 digits starting 1[3-9])"},
		{Parts{Name: "张伟", Province: "广东省", City: "深圳市", Street: "科苑路15号"},
			"receiver_mobile: no mobile or phone number"},
		{Parts{Name: "张伟", Phone: "8600-1234", Province: "广东省", City: "深圳市", Street: "科苑路15号"},
			"receiver_phone: ***1234 is not a phone number (area code and number like 010-12345678, or a 400/800 number)"},
		{Parts{Name: "张伟", Mobile: "13812345678", Province: "Bavaria", City: "München", Street: "Marienplatz 1"},
			"receiver_province: Bavaria is not a provincial-level division of China"},
		{Parts{Name: "张伟", Mobile: "13812345678", Province: "广东省", City: "南山区", Street: "科苑路15号"},
			"receiver_city: 南山区 is a district, not a city"},
		{Parts{Name: "张伟", Mobile: "13812345678", Province: "广东省", City: "深圳市", Street: " \t"},
			"receiver_address: empty"},
		{Parts{Name: "张伟", Mobile: "13812345678", Province: "广东省", City: "深圳市", Street: "#&"},
			"receiver_address: empty after removing characters the carrier refuses"},
	} {
		if _, err := Normalize(c.in); err == nil || err.Error() != c.want {
			t.Errorf("Normalize(%q) = %v, want %s", c.in, err, c.want)
		}
	}
}

func ExampleNormalize() {
	p, err := Normalize(Parts{
		Name: "张伟", Mobile: "+86 138-1234-5678", Province: "Guangdong", City: "深圳", District: "南山区",
		Street: "广东省深圳市南山区科技园\t3#楼", Postcode: "518057",
	})
	fmt.Printf("%+v %v\n", p, err)

	_, err = Normalize(Parts{Name: "张伟", Mobile: "1381234567", Province: "广东", City: "深圳", Street: "科苑路15号"})
	fmt.Println(err)
	// Output:
	// {Name:张伟 Mobile:13812345678 Phone: Province:广东省 City:深圳市 District:南山区 Street:科技园 3号楼 Postcode:518057} <nil>
	// receiver_mobile: ***4567 is not a mainland mobile number (11 digits starting 1[3-9])
}

// FuzzNormalize checks on any input that Normalize does not panic, is idempotent, and returns
// either a *FieldError or an address without the characters the carrier refuses.
func FuzzNormalize(f *testing.F) {
	for _, c := range normalizeCases {
		p := c.in
		f.Add(p.Name, p.Mobile, p.Phone, p.Province, p.City, p.District, p.Street, p.Postcode)
	}
	f.Fuzz(func(t *testing.T, name, mobile, phone, province, city, district, street, postcode string) {
		once, err := Normalize(Parts{name, mobile, phone, province, city, district, street, postcode})
		if err != nil {
			if _, ok := errors.AsType[*FieldError](err); !ok {
				t.Fatalf("error %v (%T) is not a *FieldError", err, err)
			}
			return
		}
		if strings.ContainsAny(once.Name+once.Street, `'"#&+<>%\`+"\t\n\r\x00") {
			t.Errorf("Normalize left a refused character in %q", once)
		}
		if twice, err := Normalize(once); err != nil || twice != once {
			t.Errorf("Normalize(%q) = %q, %v; want it unchanged", once, twice, err)
		}
	})
}
