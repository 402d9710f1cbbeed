package label

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Label is one parcel's label as its carrier returned it.
type Label struct {
	// Waybill is printed again as text under the label, so that a person and pdftotext can
	// read which parcel a sheet is for; required.
	Waybill string
	// Carrier and OrderCode are printed on the same line when set.
	Carrier, OrderCode string
	// HTML is the carrier's complete label document (Kdniao's PrintTemplate), in UTF-8.
	HTML []byte
	// Size is the carrier's template size, the label's height in mm at 100 mm width
	// (Kdniao's TemplateSize: "130", "150", "180"); see Page.
	Size string
}

// Sheet dimensions, in mm.
const (
	labelWidth = 100
	// defaultHeight is Kdniao's standard 100x150 label, for a size that is unknown or empty.
	defaultHeight = 150
	// minHeight and maxHeight bound what a TemplateSize can mean: a 100 mm thermal roll's
	// labels run from 100x100 to 100x210, so a number well outside is not a height (it may be
	// a template code) and gets the default rather than a sheet of that length.
	minHeight, maxHeight = 100, 250
	// lineHeight is the strip at the bottom of each sheet that carries the waybill line.
	lineHeight = 5
)

// Page returns the sheet size for a template size: "150" is 100 mm x 150 mm. A size that is
// empty, not a whole number of mm, or outside 100-250 mm is unknown and gets 100 x 150.
func Page(size string) (widthMM, heightMM int) {
	h, err := strconv.Atoi(strings.TrimSpace(size))
	if err != nil || h < minHeight || h > maxHeight {
		return labelWidth, defaultHeight
	}
	return labelWidth, h
}

// Compose writes to w one HTML document titled title (a default when empty) that prints the
// labels one per sheet, in the order given, each sheet the size of its label (see the package
// doc). It writes nothing when the labels are invalid: an empty list, a label without waybill or
// HTML, or HTML that is not UTF-8 (a srcdoc is always read as UTF-8, so it would print garbled).
func Compose(w io.Writer, title string, labels []Label) error {
	if len(labels) == 0 {
		return errors.New("compose labels: no labels")
	}
	if title == "" {
		title = "shipsync labels"
	}
	b := batch{Title: title}
	seen := map[string]bool{}
	for i, l := range labels {
		if err := check(l); err != nil {
			return fmt.Errorf("compose labels: label %d of %d (waybill %q): %w", i+1, len(labels), l.Waybill, err)
		}
		wd, ht := Page(l.Size)
		name := fmt.Sprintf("p%dx%d", wd, ht)
		if !seen[name] {
			seen[name] = true
			b.Pages = append(b.Pages, page{Name: name, Width: wd, Height: ht,
				Scale: float64(ht-lineHeight) / float64(ht)})
		}
		if ht > b.Height {
			b.Width, b.Height = wd, ht
		}
		b.Sheets = append(b.Sheets, sheet{
			Page: name,
			Next: i < len(labels)-1,
			Doc:  string(l.HTML),
			Line: line(l, i+1, len(labels)),
		})
	}
	b.LineHeight = lineHeight
	var buf bytes.Buffer
	if err := batchHTML.Execute(&buf, b); err != nil {
		return fmt.Errorf("compose labels: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	return nil
}

// check reports why l cannot be printed.
func check(l Label) error {
	switch {
	case strings.TrimSpace(l.Waybill) == "":
		return errors.New("no waybill")
	case len(bytes.TrimSpace(l.HTML)) == 0:
		return errors.New("no html")
	case !utf8.Valid(l.HTML):
		return errors.New("html is not utf-8")
	}
	return nil
}

// line is the text under label i of n: "shipsync ▸ SIM0000000001 ▸ sim ▸ order SO1 (1/3)".
func line(l Label, i, n int) string {
	parts := []string{"shipsync", l.Waybill}
	if l.Carrier != "" {
		parts = append(parts, l.Carrier)
	}
	if l.OrderCode != "" {
		parts = append(parts, "order "+l.OrderCode)
	}
	return fmt.Sprintf("%s (%d/%d)", strings.Join(parts, " ▸ "), i, n)
}

// batch is what batchHTML renders.
type batch struct {
	Title string
	// Width and Height are the largest label's, for the unnamed @page.
	Width, Height int
	LineHeight    int
	Pages         []page
	Sheets        []sheet
}

// page is one named page, one per distinct label size in the batch.
type page struct {
	Name          string
	Width, Height int
	// Scale shrinks the label so that it and the waybill line fit the sheet.
	Scale float64
}

// sheet is one label.
type sheet struct {
	Page string
	// Next is set on every sheet but the last: a break there asks for an empty sheet after
	// the batch, which Chromium happens to ignore; the document does not rely on that.
	Next bool
	// Doc is the carrier's document; html/template escapes it as the srcdoc attribute's text.
	Doc  string
	Line string
}

// batchHTML is the batch document. Its screen rules only make the file readable in a browser
// window (sheets on a grey desk); printing uses the others.
var batchHTML = template.Must(template.New("batch").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
@page { size: {{.Width}}mm {{.Height}}mm; margin: 0 }
{{- range .Pages}}
@page {{.Name}} { size: {{.Width}}mm {{.Height}}mm; margin: 0 }
{{- end}}
html, body { margin: 0; padding: 0 }
.sheet { position: relative; overflow: hidden; break-inside: avoid; background: #fff }
.next { break-after: page; page-break-after: always }
.label { transform-origin: 50% 0 }
.label iframe { display: block; width: 100%; height: 100%; border: 0 }
.line { position: absolute; left: 0; right: 0; bottom: 0; height: {{.LineHeight}}mm; margin: 0;
  font: 2.8mm/{{.LineHeight}}mm "DejaVu Sans Mono", "WenQuanYi Micro Hei Mono", monospace;
  text-align: center; white-space: nowrap; overflow: hidden; color: #000 }
{{- range .Pages}}
.{{.Name}} { page: {{.Name}}; width: {{.Width}}mm; height: {{.Height}}mm }
.{{.Name}} .label { width: {{.Width}}mm; height: {{.Height}}mm; transform: scale({{printf "%.4f" .Scale}}) }
{{- end}}
@media screen {
  body { background: #777 }
  .sheet { margin: 5mm auto; box-shadow: 0 0 2mm #000 }
}
</style>
</head>
<body>
{{- range .Sheets}}
<section class="sheet {{.Page}}{{if .Next}} next{{end}}">
<div class="label"><iframe sandbox="allow-scripts" srcdoc="{{.Doc}}"></iframe></div>
<p class="line">{{.Line}}</p>
</section>
{{- end}}
</body>
</html>
`))
