package ship

import (
	"strings"
	"testing"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/config"
)

func TestParcels(t *testing.T) {
	rule := &config.Parcels{MaxKg: 10, Max: 4}
	tests := []struct {
		name    string
		rule    *config.Parcels
		columns map[string]string
		kg      float64
		want    int
	}{
		{"no rule", nil, nil, 80, 1},
		{"light", rule, nil, 3, 1},
		{"exactly the limit", rule, nil, 10, 1},
		{"just over", rule, nil, 10.01, 2},
		{"25 kg in 10 kg parcels", rule, nil, 25, 3},
		{"capped at max", rule, nil, 500, 4},
		{"no weight", rule, nil, 0, 1},
		{"the parcels column wins", rule, map[string]string{"parcels": "2"}, 500, 2},
		{"the column is capped too", rule, map[string]string{"parcels": "9"}, 1, 4},
		{"column without a rule: capped at 20", nil, map[string]string{"parcels": "30"}, 1, 20},
		{"an unreadable column falls back to the weight", rule, map[string]string{"parcels": "two"}, 25, 3},
		{"zero parcels is not a count", rule, map[string]string{"parcels": "0"}, 25, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parcels(config.Carrier{Parcels: tt.rule}, shopdb.Order{Columns: tt.columns}, tt.kg)
			if got != tt.want {
				t.Errorf("parcels = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestShipmentAddresses(t *testing.T) {
	cfg := &config.Config{Sender: config.Address{Name: "仓", Mobile: "138 0013 8000", Province: "Guangdong", City: "深圳", Address: "路1号", Company: "A&B"}}
	o := shopdb.Order{Code: "SO1", ReceiverName: "张三", ReceiverMobile: "+86 138-0013-8000", ReceiverProvince: "Guangdong",
		ReceiverCity: "深圳", ReceiverDistrict: "南山区", ReceiverAddress: "广东省深圳市南山区科技园#3栋"}
	sh, _, err := shipment(o, nil, cfg, sendersOf(cfg))
	if err != nil {
		t.Fatal(err)
	}
	r := sh.Receiver
	if r.Province != "广东省" || r.City != "深圳市" || r.Mobile != "13800138000" || r.Address == o.ReceiverAddress {
		t.Errorf("receiver = %+v, want 广东省 深圳市, the mobile without +86 and the street without the repeated names", r)
	}
	if sd := sh.Sender; sd.Province != "广东省" || sd.City != "深圳市" || sd.Mobile != "13800138000" || sd.Company != "A&B" {
		t.Errorf("sender = %+v, want it normalised like a receiver (the company kept)", sd)
	}
	off := false
	cfg.Addresses.Normalize = &off
	if sh, _, err = shipment(o, nil, cfg, sendersOf(cfg)); err != nil || sh.Receiver.City != "深圳" || sh.Receiver.Address != o.ReceiverAddress {
		t.Errorf("with normalize off: %+v, %v; want the address as the shop has it", sh.Receiver, err)
	}
	cfg.Addresses.Normalize = nil
	o.ReceiverMobile, o.ReceiverPhone = "12345", ""
	if _, _, err := shipment(o, nil, cfg, sendersOf(cfg)); err == nil || !strings.Contains(err.Error(), "receiver_mobile") || strings.Contains(err.Error(), "12345") {
		t.Errorf("a bad mobile: %v; want a permanent error naming receiver_mobile, not the number", err)
	}
}

func TestChooseWarehouse(t *testing.T) {
	addr := func(p string) config.Address { return config.Address{Province: p} }
	cfg := &config.Config{Warehouses: []config.Warehouse{
		{Name: "north", Sender: addr("北京"), Serves: []string{"北京", "天津"}},
		{Name: "east", Sender: addr("上海"), Serves: []string{"上海", "浙江"}, Default: true},
		{Name: "south", Sender: addr("广东")},
	}}
	for province, want := range map[string]string{"天津": "north", "Zhejiang": "east", "广西壮族自治区": "south",
		"陕西": "north", "湖北": "east", "Bavaria": "east"} {
		if got := cfg.Warehouses[sendersOf(cfg).warehouse(province)].Name; got != want {
			t.Errorf("%s ships from %s, want %s", province, got, want)
		}
	}
}
