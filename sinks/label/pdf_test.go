package label

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// toolsHint is how to get what the PDF tests need.
const toolsHint = "install chromium poppler-utils fonts-wqy-microhei (bash deploy/install-tools.sh)"

// tools are the programs the PDF tests run.
type tools struct{ chromium, pdfinfo, pdftotext string }

// needTools finds Chromium, pdfinfo, pdftotext and a Chinese font. Missing, it fails the test,
// except under -short.
func needTools(t *testing.T) tools {
	t.Helper()
	var tl tools
	var missing []string
	var err error
	if tl.chromium, err = Chromium(); err != nil {
		missing = append(missing, err.Error())
	}
	for _, p := range []struct {
		name string
		path *string
	}{{"pdfinfo", &tl.pdfinfo}, {"pdftotext", &tl.pdftotext}} {
		if *p.path, err = exec.LookPath(p.name); err != nil {
			missing = append(missing, p.name)
		}
	}
	// Without a Chinese font Chromium draws boxes, and 张三 cannot come back out of the PDF.
	if out, err := exec.Command("fc-list", ":lang=zh").Output(); err != nil || len(bytes.TrimSpace(out)) == 0 {
		missing = append(missing, "a Chinese font (fc-list :lang=zh lists none)")
	}
	if len(missing) == 0 {
		return tl
	}
	if testing.Short() {
		t.Skipf("missing %s", strings.Join(missing, "; "))
	}
	t.Fatalf("missing %s: %s", strings.Join(missing, "; "), toolsHint)
	return tl
}

// pageSizeRE matches pdfinfo's "Page    2 size: 282.96 x 510 pts" lines.
var pageSizeRE = regexp.MustCompile(`(?m)^Page\s+(\d+) size:\s+([\d.]+) x ([\d.]+) pts`)

// pdfPages returns the size in mm of each page of the PDF at path, from pdfinfo.
func pdfPages(t *testing.T, tl tools, path string) [][2]float64 {
	t.Helper()
	out, err := exec.Command(tl.pdfinfo, "-f", "1", "-l", "10000", path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("pdfinfo printed no page count:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	var sizes [][2]float64
	for _, m := range pageSizeRE.FindAllStringSubmatch(string(out), -1) {
		w, _ := strconv.ParseFloat(m[2], 64)
		h, _ := strconv.ParseFloat(m[3], 64)
		sizes = append(sizes, [2]float64{w * 25.4 / 72, h * 25.4 / 72})
	}
	if len(sizes) != n {
		t.Fatalf("pdfinfo: %d pages but %d page sizes:\n%s", n, len(sizes), out)
	}
	return sizes
}

// pdfText is page i's text (from 1), as pdftotext -layout extracts it.
func pdfText(t *testing.T, tl tools, path string, i int) string {
	t.Helper()
	n := strconv.Itoa(i)
	out, err := exec.Command(tl.pdftotext, "-layout", "-enc", "UTF-8", "-f", n, "-l", n, path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext page %d: %v", i, err)
	}
	return string(out)
}

// TestPDF prints three labels of two sizes through Chromium and reads the PDF back: one page
// per label, in order, each its label's size, with its own waybill and receiver and no other's.
func TestPDF(t *testing.T) {
	tl := needTools(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	// The third template draws part of itself with a script, as some carriers draw their
	// barcode: the sandbox must let it run.
	scripted := strings.NewReplacer(
		"<td>打印时间<br>2026-05-01 17:30</td>", `<td id="js"></td>`,
		"</body>", `<script>document.getElementById("js").textContent = "drawn by script " + 6*7</script></body>`,
	).Replace(string(fixture(t, "SIM3000000003", "王五", "广东省深圳市南山区科技园1号")))
	labels := []Label{
		{Waybill: "SIM1000000001", Carrier: "sim", OrderCode: "SO1", Size: "150",
			HTML: fixture(t, "SIM1000000001", "张三", "北京市朝阳区建国路88号")},
		{Waybill: "SIM2000000002", Carrier: "sim", OrderCode: "SO2", Size: "180",
			HTML: fixture(t, "SIM2000000002", "李四", "上海市浦东新区世纪大道100号")},
		{Waybill: "SIM3000000003", Carrier: "sim", OrderCode: "订单3", Size: "",
			HTML: []byte(scripted)},
	}
	want := []struct {
		height float64
		text   []string // besides the waybill line
	}{
		{150, []string{"张三", "北京市朝阳区"}},
		{180, []string{"李四", "上海市浦东新区"}},
		{150, []string{"王五", "广东省深圳市", "drawn by script 42"}},
	}
	var doc bytes.Buffer
	if err := Compose(&doc, "batch", labels); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	start := time.Now()
	pdf, err := PDF(ctx, tl.chromium, doc.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d KB of HTML, %d KB of PDF in %s", doc.Len()>>10, len(pdf)>>10, time.Since(start).Round(time.Millisecond))
	noLeftovers(t, tmp)
	path := filepath.Join(t.TempDir(), "labels.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}

	sizes := pdfPages(t, tl, path)
	if len(sizes) != len(labels) {
		t.Fatalf("%d pages, want one per label: %d", len(sizes), len(labels))
	}
	for i, l := range labels {
		if w, h := sizes[i][0], sizes[i][1]; math.Abs(w-100) > 0.5 || math.Abs(h-want[i].height) > 0.5 {
			t.Errorf("page %d is %.1f x %.1f mm, want 100 x %.0f", i+1, w, h, want[i].height)
		}
		text := pdfText(t, tl, path, i+1)
		// -layout keeps a table's cells apart with spaces; CJK words are matched without them.
		flat := strings.Join(strings.Fields(text), "")
		line := fmt.Sprintf("shipsync ▸ %s ▸ sim ▸ order %s (%d/3)", l.Waybill, l.OrderCode, i+1)
		if !strings.Contains(text, line) {
			t.Errorf("page %d lacks its waybill line %q", i+1, line)
		}
		for _, s := range want[i].text {
			if !strings.Contains(flat, strings.Join(strings.Fields(s), "")) {
				t.Errorf("page %d lacks %q", i+1, s)
			}
		}
		for j, other := range labels {
			if j == i {
				continue
			}
			if strings.Contains(text, other.Waybill) {
				t.Errorf("page %d holds label %d's waybill %s", i+1, j+1, other.Waybill)
			}
			for _, s := range want[j].text[:1] {
				if strings.Contains(flat, s) {
					t.Errorf("page %d holds label %d's receiver %s", i+1, j+1, s)
				}
			}
		}
		if t.Failed() {
			t.Logf("page %d:\n%s", i+1, text)
		}
	}
}

// TestPDFCancel ends the context while Chromium prints: PDF returns the context's error soon,
// leaving no Chromium process and no temporary directory behind.
func TestPDFCancel(t *testing.T) {
	tl := needTools(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // PDF's directory, and so every Chromium command line, names it
	var labels []Label
	for i := range 200 { // tens of seconds of printing: still at work when the context ends
		w := fmt.Sprintf("SIM%010d", i)
		labels = append(labels, Label{Waybill: w, HTML: fixture(t, w, "张三", "北京市朝阳区建国路88号")})
	}
	var doc bytes.Buffer
	if err := Compose(&doc, "", labels); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cancelled := make(chan time.Time, 1)
	go func() {
		// Cancel once Chromium has started its helpers, so that there is something to leave.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if len(procsNaming(tmp)) > 1 {
				time.Sleep(300 * time.Millisecond)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancelled <- time.Now()
		cancel()
	}()
	_, err := PDF(ctx, tl.chromium, doc.Bytes())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(<-cancelled); d > waitDelay {
		t.Errorf("PDF returned %s after the cancel, want within %s", d, waitDelay)
	}
	t.Logf("cancelled: %v", err)
	noLeftovers(t, tmp)
}

// noLeftovers checks that PDF, run with TMPDIR=tmp, left no Chromium process running and no
// file in tmp.
func noLeftovers(t *testing.T, tmp string) {
	t.Helper()
	var left []int
	for range 50 { // the helpers exit when they see the browser gone
		if left = procsNaming(tmp); len(left) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range left {
		t.Errorf("chromium process %d outlived PDF: %s", pid, cmdline(pid))
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill() //nolint:errcheck // cleanup of a process this test started
		}
	}
	var files []string
	filepath.WalkDir(tmp, func(p string, _ os.DirEntry, err error) error { //nolint:errcheck // a walk error is a file named below
		if p != tmp {
			files = append(files, strings.TrimPrefix(p, tmp+"/"))
		}
		return nil
	})
	if len(files) > 0 {
		t.Errorf("PDF left behind %d files: %q", len(files), files[:min(len(files), 20)])
	}
}

// procsNaming returns the processes whose command line contains s. Chromium's browser,
// zygotes and crash handlers name the profile directory; the renderers are the zygotes'
// children and die with them.
func procsNaming(s string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if strings.Contains(cmdline(pid), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}

// fakeChromium writes an executable shell script standing in for Chromium and returns its path.
func fakeChromium(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPDFFailures runs a script in Chromium's place: what PDF passes it, and what it makes of
// a browser that fails, writes nothing, or writes something else.
func TestPDFFailures(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to stand in for chromium")
	}
	// The script finds its output and input among its arguments, as Chromium does.
	const args = `for a in "$@"; do case $a in --print-to-pdf=*) out=${a#--print-to-pdf=};; file://*) in=${a#file://};; esac; done
printf '%s\n' "$@" > "$ARGS"`
	for _, tc := range []struct {
		name, body string
		want       string // in the error; "" for success
	}{
		{"prints", args + `; { printf '%%PDF-1.4 '; cat "$in"; } > "$out"`, ""},
		{"fails", args + `; echo "dbus noise" >&2; echo "fatal: cannot open display" >&2; exit 3`,
			"exit status 3; stderr: dbus noise\nfatal: cannot open display"},
		{"writes nothing", args + `; echo "Written to file" >&2`, "wrote no pdf"},
		{"writes html", args + `; cp "$in" "$out"`, "bytes that are not a pdf"},
		{"long stderr", args + `; i=0; while [ $i -lt 2000 ]; do echo "line $i" >&2; i=$((i+1)); done; echo "the reason" >&2; exit 1`,
			"\nline 1999\nthe reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			argsFile := filepath.Join(dir, "args")
			t.Setenv("ARGS", argsFile)
			bin := fakeChromium(t, dir, "chromium", tc.body)
			html := []byte("<!DOCTYPE html><p>labels</p>")
			pdf, err := PDF(t.Context(), bin, html)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if want := "%PDF-1.4 " + string(html); string(pdf) != want {
					t.Errorf("pdf = %q, want %q: the html PDF was given, behind the header", pdf, want)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			} else if len(err.Error()) > stderrTail+500 {
				t.Errorf("error is %d bytes long: the stderr tail is not bounded", len(err.Error()))
			}
			got, err := os.ReadFile(argsFile)
			if err != nil {
				t.Fatal(err)
			}
			argv := strings.Split(strings.TrimSpace(string(got)), "\n")
			for _, want := range []string{"--headless", "--no-sandbox", "--no-pdf-header-footer",
				"--disable-background-networking", "--virtual-time-budget=5000"} {
				if !slices.Contains(argv, want) {
					t.Errorf("chromium not run with %s: %q", want, argv)
				}
			}
			profile := func(a string) bool { return strings.HasPrefix(a, "--user-data-dir="+os.TempDir()) }
			if !slices.ContainsFunc(argv, profile) {
				t.Errorf("chromium not run with a temporary profile: %q", argv)
			}
		})
	}
}

func TestPDFRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func() context.Context
		bin  string
		html []byte
		want error
	}{
		{"no html", t.Context, "/bin/true", nil, nil},
		{"no chromium", t.Context, filepath.Join(t.TempDir(), "chromium"), []byte("<p>x</p>"), os.ErrNotExist},
		{"context done", func() context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, "/bin/true", []byte("<p>x</p>"), context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pdf, err := PDF(tc.ctx(), tc.bin, tc.html)
			if err == nil || pdf != nil {
				t.Fatalf("PDF = %d bytes, %v; want an error", len(pdf), err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want it to wrap %v", err, tc.want)
			}
		})
	}
}

func TestChromium(t *testing.T) {
	for _, tc := range []struct {
		name  string
		path  []string // executables in the PATH directory
		env   string   // $SHIPSYNC_CHROMIUM; "DIR/" is replaced by the PATH directory
		want  string   // the name found; "" for not found
		errIs error
	}{
		{"debian", []string{"chromium", "chromium-browser", "google-chrome"}, "", "chromium", nil},
		{"ubuntu", []string{"chromium-browser", "google-chrome"}, "", "chromium-browser", nil},
		{"google", []string{"google-chrome"}, "", "google-chrome", nil},
		{"none", []string{"firefox"}, "", "", exec.ErrNotFound},
		{"env path", []string{"chromium", "my-chrome"}, "DIR/my-chrome", "my-chrome", nil},
		{"env name", []string{"chromium", "my-chrome"}, "my-chrome", "my-chrome", nil},
		// Set but missing: reported, not replaced by the chromium on PATH.
		{"env missing", []string{"chromium"}, "DIR/gone", "", os.ErrNotExist},
		{"env name missing", []string{"chromium"}, "gone", "", exec.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, n := range tc.path {
				fakeChromium(t, dir, n, "exit 0")
			}
			t.Setenv("PATH", dir)
			t.Setenv(chromiumEnv, strings.Replace(tc.env, "DIR/", dir+"/", 1))
			got, err := Chromium()
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Chromium() = %q, want an error", got)
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Errorf("err = %v, want it to wrap %v", err, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, tc.want); got != want {
				t.Errorf("Chromium() = %q, want %q", got, want)
			}
		})
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"nothing", nil, "(empty)"},
		{"blank", []string{"\n \n"}, "(empty)"},
		{"short", []string{"a\n", "b\n"}, "a\nb"},
		{"exact", []string{"0123456789"}, "0123456789"},
		{"one long write", []string{"abcdefghij0123456789"}, "…0123456789"},
		{"many writes", []string{"abc", "defgh", "ij01234", "56789"}, "…0123456789"},
		{"cut line", []string{"line 1\n", "line 2\n", "end\n"}, "…end"},
		{"cut before a newline", []string{"line 1\nline 2\n"}, "…line 2"},
		{"cut rune", []string{"张三四五"}, "…三四五"}, // 12 bytes: 张 loses its first two
		{"invalid", []string{"a\xffb"}, "a?b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := &tail{max: 10}
			for _, w := range tc.writes {
				if n, err := tl.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := tl.String(); got != tc.want {
				t.Errorf("tail = %q, want %q", got, tc.want)
			}
		})
	}
}
