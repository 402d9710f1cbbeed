package address

import "math"

// Capital returns the latitude and longitude (degrees) of the capital of a provincial-level
// division, for any spelling Province accepts; ok false for an unknown name.
func Capital(province string) (lat, lon float64, ok bool) {
	// Province returns an unknown name unchanged, and no unknown name is a key of capitals
	// (the keys are exactly Kdniao's 34 names), so the lookup alone tells known from unknown.
	p, ok := capitals[Province(province)]
	return p.lat, p.lon, ok
}

// DistanceKm is the great-circle (haversine) distance between two points given in degrees.
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	// Min guards asin against h rounding a hair above 1 for antipodal points.
	return 2 * capitalEarthRadiusKm * math.Asin(math.Sqrt(math.Min(h, 1)))
}

// capitalEarthRadiusKm is the IUGG mean Earth radius; the sphere is within 0.5 % of the
// ellipsoid, far finer than choosing a warehouse needs.
const capitalEarthRadiusKm = 6371.0088

// capitalPoint is a position in degrees, north and east positive.
type capitalPoint struct{ lat, lon float64 }

// capitals: the seat of government of each provincial-level division, keyed by Kdniao's name
// (the output of Province). A province's capital stands in for the whole province: routing
// only has to rank warehouses, and two decimals (about 1 km) are plenty for that. The SARs use
// their city centres (Central, Macau peninsula).
var capitals = map[string]capitalPoint{
	"北京":       {39.90, 116.41}, // 北京
	"天津":       {39.13, 117.20}, // 天津
	"上海":       {31.23, 121.47}, // 上海
	"重庆":       {29.56, 106.55}, // 重庆
	"河北省":      {38.04, 114.51}, // 石家庄
	"山西省":      {37.87, 112.55}, // 太原
	"辽宁省":      {41.80, 123.43}, // 沈阳
	"吉林省":      {43.82, 125.32}, // 长春
	"黑龙江省":     {45.80, 126.53}, // 哈尔滨
	"江苏省":      {32.06, 118.80}, // 南京
	"浙江省":      {30.27, 120.16}, // 杭州
	"安徽省":      {31.82, 117.23}, // 合肥
	"福建省":      {26.07, 119.30}, // 福州
	"江西省":      {28.68, 115.86}, // 南昌
	"山东省":      {36.65, 117.12}, // 济南
	"河南省":      {34.75, 113.63}, // 郑州
	"湖北省":      {30.59, 114.31}, // 武汉
	"湖南省":      {28.23, 112.94}, // 长沙
	"广东省":      {23.13, 113.26}, // 广州
	"海南省":      {20.04, 110.34}, // 海口
	"四川省":      {30.57, 104.07}, // 成都
	"贵州省":      {26.65, 106.63}, // 贵阳
	"云南省":      {25.04, 102.71}, // 昆明
	"陕西省":      {34.34, 108.94}, // 西安
	"甘肃省":      {36.06, 103.83}, // 兰州
	"青海省":      {36.62, 101.78}, // 西宁
	"台湾省":      {25.03, 121.57}, // 台北
	"内蒙古自治区":   {40.84, 111.75}, // 呼和浩特
	"广西壮族自治区":  {22.82, 108.37}, // 南宁
	"西藏自治区":    {29.65, 91.13},  // 拉萨
	"宁夏回族自治区":  {38.49, 106.23}, // 银川
	"新疆维吾尔自治区": {43.83, 87.62},  // 乌鲁木齐
	"香港特别行政区":  {22.28, 114.16}, // 香港
	"澳门特别行政区":  {22.20, 113.55}, // 澳门
}
