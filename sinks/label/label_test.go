package label

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestPage(t *testing.T) {
	for _, tc := range []struct {
		size   string
		height int
	}{
		{"130", 130},
		{"150", 150},
		{"180", 180},
		{" 180 ", 180},
		{"100", 100},
		{"250", 250},
		{"", 150},
		{"99", 150},
		{"251", 150},
		{"76130", 150},
		{"100x180", 150},
		{"-180", 150},
		{"一百五", 150},
	} {
		w, h := Page(tc.size)
		if w != 100 || h != tc.height {
			t.Errorf("Page(%q) = %d x %d, want 100 x %d", tc.size, w, h, tc.height)
		}
	}
}

func ExamplePage() {
	fmt.Println(Page("180"))
	fmt.Println(Page(""))
	// Output:
	// 100 180
	// 100 150
}

// fixture returns testdata/label.html for another parcel: its waybill and receiver replaced.
func fixture(t *testing.T, waybill, receiver, address string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/label.html")
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer("SIM0000000001", waybill, "张三", receiver, "北京市朝阳区建国路88号", address)
	return []byte(r.Replace(string(b)))
}

// sheetRE matches one sheet of a Compose output: its class, srcdoc and waybill line.
var sheetRE = regexp.MustCompile(`(?s)<section class="([^"]*)">\s*<div class="label"><iframe sandbox="allow-scripts" srcdoc="([^"]*)"></iframe></div>\s*<p class="line">([^<]*)</p>\s*</section>`)

// composed is a Compose output taken apart.
type composed struct {
	doc    string
	sheets []composedSheet
}

type composedSheet struct {
	classes []string
	srcdoc  string // unescaped: the label's document as the browser reads it
	line    string
}

func compose(t *testing.T, title string, labels []Label) composed {
	t.Helper()
	var buf bytes.Buffer
	if err := Compose(&buf, title, labels); err != nil {
		t.Fatal(err)
	}
	c := composed{doc: buf.String()}
	for _, m := range sheetRE.FindAllStringSubmatch(c.doc, -1) {
		c.sheets = append(c.sheets, composedSheet{
			classes: strings.Fields(m[1]),
			srcdoc:  html.UnescapeString(m[2]),
			line:    html.UnescapeString(m[3]),
		})
	}
	if n := strings.Count(c.doc, "<section"); n != len(c.sheets) {
		t.Fatalf("%d sections, %d of them parsed as sheets:\n%s", n, len(c.sheets), c.doc)
	}
	return c
}

func TestComposeSheets(t *testing.T) {
	labels := []Label{
		{Waybill: "SIM0000000001", Carrier: "sim", OrderCode: "SO1", HTML: fixture(t, "SIM0000000001", "张三", "北京市朝阳区建国路88号"), Size: "150"},
		{Waybill: "SIM0000000002", OrderCode: "SO2", HTML: fixture(t, "SIM0000000002", "李四", "上海市浦东新区世纪大道100号"), Size: "180"},
		{Waybill: "SIM0000000003", Carrier: "kdniao", HTML: fixture(t, "SIM0000000003", "王五", "广东省深圳市南山区科技园1号")},
		{Waybill: "SIM0000000004", HTML: []byte("<p>130</p>"), Size: "130"},
	}
	c := compose(t, "", labels)
	if len(c.sheets) != len(labels) {
		t.Fatalf("%d sheets, want %d", len(c.sheets), len(labels))
	}
	wantPage := []string{"p100x150", "p100x180", "p100x150", "p100x130"}
	wantLine := []string{
		"shipsync ▸ SIM0000000001 ▸ sim ▸ order SO1 (1/4)",
		"shipsync ▸ SIM0000000002 ▸ order SO2 (2/4)",
		"shipsync ▸ SIM0000000003 ▸ kdniao (3/4)",
		"shipsync ▸ SIM0000000004 (4/4)",
	}
	for i, s := range c.sheets {
		if s.srcdoc != string(labels[i].HTML) {
			t.Errorf("sheet %d: srcdoc is not label %d's document, unchanged", i+1, i+1)
		}
		if s.line != wantLine[i] {
			t.Errorf("sheet %d: line %q, want %q", i+1, s.line, wantLine[i])
		}
		last := i == len(labels)-1
		want := []string{"sheet", wantPage[i]}
		if !last {
			want = append(want, "next") // the page break: none after the last, which would ask for an empty sheet
		}
		if strings.Join(s.classes, " ") != strings.Join(want, " ") {
			t.Errorf("sheet %d: classes %q, want %q", i+1, s.classes, want)
		}
	}
	for _, want := range []string{
		"<title>shipsync labels</title>",
		"@page { size: 100mm 180mm; margin: 0 }", // the largest, for browsers without named pages
		"@page p100x130 { size: 100mm 130mm; margin: 0 }",
		"@page p100x150 { size: 100mm 150mm; margin: 0 }",
		"@page p100x180 { size: 100mm 180mm; margin: 0 }",
		".p100x150 { page: p100x150; width: 100mm; height: 150mm }",
		".p100x180 .label { width: 100mm; height: 180mm; transform: scale(0.9722) }", // (180-5)/180
		".next { break-after: page; page-break-after: always }",
	} {
		if !strings.Contains(c.doc, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(c.doc, "@page p100x150 "); n != 1 {
		t.Errorf("@page p100x150 declared %d times, want once", n)
	}
}

// TestComposeIsolates: whatever a carrier's document holds stays text inside its srcdoc: its
// styles, scripts and a quote that tries to close the attribute.
func TestComposeIsolates(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
	}{
		{"fixture", string(fixture(t, "SIM0000000001", "张三", "北京市朝阳区建国路88号"))},
		{"attribute breakout", `"></iframe><script>parent.alert(1)</script><iframe srcdoc="`},
		{"single quote breakout", `'></iframe><style>body{display:none}</style>`},
		{"entities", `<p title="a&quot;b">&amp;lt;script&amp;gt; &lt; &#34;</p>`},
		{"script", `<body onload="print()"><script>document.write('<b>x</b>')</script></body>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := compose(t, `a "title" <b>`, []Label{{Waybill: "W1", HTML: []byte(tc.doc)}})
			if len(c.sheets) != 1 || c.sheets[0].srcdoc != tc.doc {
				t.Fatalf("srcdoc does not round-trip:\n%s", c.doc)
			}
			for tag, want := range map[string]int{"<script": 0, "<style": 1, "<iframe": 1, "</iframe>": 1, "<title>": 1} {
				if n := strings.Count(c.doc, tag); n != want {
					t.Errorf("%d %s in the output, want %d", n, tag, want)
				}
			}
			if !strings.Contains(c.doc, "<title>a &#34;title&#34; &lt;b&gt;</title>") {
				t.Errorf("title not escaped:\n%s", c.doc)
			}
		})
	}
}

func TestComposeRejects(t *testing.T) {
	ok := Label{Waybill: "W1", HTML: []byte("<p>x</p>")}
	for _, tc := range []struct {
		name   string
		labels []Label
		want   string
	}{
		{"nil", nil, "no labels"},
		{"empty", []Label{}, "no labels"},
		{"no waybill", []Label{ok, {Waybill: " ", HTML: ok.HTML}}, `label 2 of 2 (waybill " "): no waybill`},
		{"no html", []Label{{Waybill: "W2", HTML: []byte(" \n")}, ok}, `label 1 of 2 (waybill "W2"): no html`},
		{"not utf-8", []Label{ok, ok, {Waybill: "W3", HTML: []byte("<p>\xd5\xc5\xc8\xfd</p>")}}, // 张三 in GBK
			`label 3 of 3 (waybill "W3"): html is not utf-8`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Compose(&buf, "t", tc.labels)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes for a batch it rejected", buf.Len())
			}
		})
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestComposeWriteError(t *testing.T) {
	disk := errors.New("disk full")
	err := Compose(failingWriter{disk}, "t", []Label{{Waybill: "W1", HTML: []byte("<p>x</p>")}})
	if !errors.Is(err, disk) {
		t.Fatalf("err = %v, want it to wrap %v", err, disk)
	}
}
