package sim

import (
	"fmt"
	"html"
	"strings"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
)

// labelData is what a label shows, kept from the create request (a repeat answers the same
// label, as Kdniao does).
type labelData struct {
	receiver, receiverPhone, receiverAddr string
	sender, senderAddr                    string
}

func newLabelData(req kdniao.CreateRequest) labelData {
	addr := func(a kdniao.Address) string {
		return strings.Join([]string{a.ProvinceName, a.CityName, a.ExpAreaName, a.Address}, " ")
	}
	return labelData{receiver: req.Receiver.Name, receiverPhone: maskPhone(req.Receiver.Mobile + req.Receiver.Tel),
		receiverAddr: addr(req.Receiver), sender: req.Sender.Name, senderAddr: addr(req.Sender)}
}

// maskPhone keeps the first three and last four digits, as printed labels do.
func maskPhone(p string) string {
	if len(p) < 8 {
		return p
	}
	return p[:3] + "****" + p[len(p)-4:]
}

// labelHTML is the print template of parcel i of rec (0 the parent, 1.. its children): a
// complete HTML document like Kdniao's PrintTemplate, deterministic for a waybill, with the
// waybill number and the receiver on it. size is the TemplateSize asked for (the label's
// height in mm at 100 mm wide; 150 when empty).
func labelHTML(rec *record, i int, size string) string {
	number := rec.logisticCode
	if i > 0 {
		number = rec.children[i-1]
	}
	if size == "" {
		size = "150"
	}
	e := html.EscapeString
	parcel := ""
	if n := len(rec.children); n > 0 {
		parcel = fmt.Sprintf(`<div class="parcel">%d/%d 母单 %s</div>`, i+1, n+1, e(rec.logisticCode))
	}
	var bars strings.Builder
	for j, c := range number {
		fmt.Fprintf(&bars, `<i style="left:%dpx;width:%dpx"></i>`, 8+j*14, 2+int(c)%4)
	}
	return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>` + e(number) + `</title><style>
body{margin:0;font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;font-size:12px;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.sheet{width:100mm;height:` + e(size) + `mm;box-sizing:border-box;border:1px solid #000;padding:2mm;position:relative}
.courier{font-size:18px;font-weight:bold}
.bars{position:relative;height:14mm;margin:2mm 0}
.bars i{position:absolute;top:0;bottom:0;background:#000}
.number{font-size:20px;letter-spacing:2px;font-family:monospace}
.to{border-top:1px solid #000;margin-top:2mm;padding-top:2mm;font-size:14px}
.from{border-top:1px dashed #000;margin-top:2mm;padding-top:2mm}
.parcel{position:absolute;right:2mm;top:2mm;font-size:11px}
</style></head><body><div class="sheet"><div class="courier">` + e(rec.shipperCode) + ` 电子面单</div>` + parcel +
		`<div class="bars">` + bars.String() + `</div><div class="number">` + e(number) + `</div>` +
		`<div class="to">收 ` + e(rec.label.receiver) + ` ` + e(rec.label.receiverPhone) + `<br>` + e(rec.label.receiverAddr) + `</div>` +
		`<div class="from">寄 ` + e(rec.label.sender) + ` ` + e(rec.label.senderAddr) + `</div>` +
		`<div class="order">订单 ` + e(rec.orderCode) + `</div></div></body></html>`
}
