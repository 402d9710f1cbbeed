package kdniao

import (
	"math"
	"testing"
)

// tv3Order is the order behind the TV3 vector of kdniao.md.
func tv3Order() Order {
	return Order{
		OrderCode: "SO20240501001",
		Sender: Address{Name: "Taylor", Mobile: "15018442396", ProvinceName: "上海", CityName: "上海",
			ExpAreaName: "青浦区", Address: "明珠路73号"},
		Receiver: Address{Name: "Yann", Mobile: "15018442396", ProvinceName: "北京", CityName: "北京",
			ExpAreaName: "朝阳区", Address: "三里屯街道雅秀大厦"},
		Items:    []Item{{GoodsName: "鞋子 A&B+C", Goodsquantity: 1, GoodsWeight: 1}},
		WeightKg: 1,
		Quantity: 1,
		Remark:   "小心轻放",
	}
}

func TestCreateRequestTV3(t *testing.T) {
	v := loadVectors(t)["TV3"]
	got, err := NewCreateRequest(tv3Order(), "SIM", 1, 1).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got != v.RequestData {
		t.Fatalf("RequestData\n got %s\nwant %s", got, v.RequestData)
	}
	if s := Sign(got, v.AppKey); s != v.DataSign {
		t.Errorf("Sign = %s, want %s", s, v.DataSign)
	}
}

func TestFloatJSON(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0.0"},
		{1, "1.0"},
		{1.5, "1.5"},
		{0.125, "0.125"},
		{12000, "12000.0"},
		{1e21, "1000000000000000000000.0"},
	}
	for _, tt := range tests {
		b, err := Float(tt.in).MarshalJSON()
		if err != nil || string(b) != tt.want {
			t.Errorf("Float(%v) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := Float(bad).MarshalJSON(); err == nil {
			t.Errorf("Float(%v) encoded", bad)
		}
	}
}

func TestCreateRequestOptionalFields(t *testing.T) {
	o := Order{
		OrderCode: "A1",
		Receiver:  Address{Name: "N", Tel: "021-1234", PostCode: "200000", Company: "C"},
		Items:     []Item{{GoodsName: "g", Goodsquantity: 2, GoodsWeight: 0.5, GoodsPrice: 9.9}},
	}
	got, err := NewCreateRequest(o, "SF", 3, 2).Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"OrderCode":"A1","ShipperCode":"SF","PayType":3,"ExpType":2,` +
		`"Sender":{"Name":"","ProvinceName":"","CityName":"","ExpAreaName":"","Address":""},` +
		`"Receiver":{"Name":"N","Tel":"021-1234","ProvinceName":"","CityName":"","ExpAreaName":"","Address":"","PostCode":"200000","Company":"C"},` +
		`"Commodity":[{"GoodsName":"g","Goodsquantity":2,"GoodsWeight":0.5,"GoodsPrice":9.9}],` +
		`"Weight":0.0,"Quantity":1,"Volume":0.0,"IsReturnPrintTemplate":0}`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}
