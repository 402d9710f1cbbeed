package statuspage

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/testenv"
)

// dataField matches an element carrying a data-field attribute and its text, which for every
// data-field element of the page is plain text without child elements.
var dataField = regexp.MustCompile(`<[a-z0-9]+\b[^>]*\bdata-field="([^"]*)"[^>]*>([^<]*)<`)

// TestBrowserRendersStatus loads the page in headless Chromium, lets it fetch /api/status, and
// checks that every rendered value equals the JSON value formatted as doc.go documents.
func TestBrowserRendersStatus(t *testing.T) {
	bin := testenv.Chromium(t)
	srv := newServer(t, fixed(fixture()))
	_, body := get(t, http.MethodGet, srv.URL+"/api/status")
	var s Snapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}

	// Asia/Shanghai has had no DST since 1991, so a fixed +8 is its local time for the fixture;
	// it shows that the page converts to the browser's zone.
	local := time.FixedZone("CST", 8*3600)
	want := map[string]string{
		"conn":                   "live",
		"now":                    s.Now.In(local).Format(time.DateTime),
		"ready":                  map[bool]string{true: "yes", false: "no"}[s.Ready],
		"binlog_lag_seconds":     fixed1(s.BinlogLagSeconds),
		"checkpoint":             s.Checkpoint,
		"checkpoint_age_seconds": fixed1(s.CheckpointAgeSeconds),
		"orders_per_minute":      fixed1(s.OrdersPerMinute),
		"retry_queue":            strconv.FormatInt(s.RetryQueue, 10),
		"dead_letter":            strconv.FormatInt(s.DeadLetter, 10),
		"stale_parcels":          strconv.FormatInt(s.StaleParcels, 10),
		"cancel_after_pickup":    strconv.FormatInt(s.CancelAfterPickup, 10),
	}
	for _, c := range s.Carriers {
		f := "carrier-" + c.Name + "-"
		want[f+"name"] = c.Name
		want[f+"requests"] = strconv.FormatInt(c.Requests, 10)
		want[f+"success"] = fixed1(c.SuccessRate * 100)
		want[f+"p50"] = strconv.FormatFloat(math.Round(c.P50Seconds*1000), 'f', 0, 64)
		want[f+"p99"] = strconv.FormatFloat(math.Round(c.P99Seconds*1000), 'f', 0, 64)
	}
	orDash := func(v string) string {
		if v == "" {
			return "–"
		}
		return v
	}
	for i, o := range s.Latest {
		f := fmt.Sprintf("latest-%d-", i)
		want[f+"order_code"] = orDash(o.OrderCode)
		want[f+"carrier"] = orDash(o.Carrier)
		want[f+"waybill"] = orDash(o.Waybill)
		want[f+"state"] = orDash(o.State)
		want[f+"status"] = orDash(o.Status)
		want[f+"receiver"] = orDash(o.Receiver)
		want[f+"phone"] = orDash(o.Phone)
		want[f+"address"] = orDash(o.Address)
		want[f+"updated_at"] = o.UpdatedAt.In(local).Format(time.DateTime)
		if o.Exception {
			want[f+"exception"] = "exception"
		}
	}
	if l := s.Labels; l != nil {
		want["labels-unprinted"] = strconv.FormatInt(l.Unprinted, 10)
		for i, b := range l.Batches {
			f := fmt.Sprintf("label-batch-%d-", i)
			want[f+"id"], want[f+"at"], want[f+"count"] = b.ID, b.At.In(local).Format(time.DateTime), strconv.Itoa(b.Count)
		}
	}
	// The fixture's values are chosen to make the formats visible; pin a few literally so a
	// formatting mistake shared by this test and the page cannot pass.
	for k, v := range map[string]string{"binlog_lag_seconds": "1.3", "orders_per_minute": "37.3",
		"carrier-sim-success": "98.8", "carrier-sim-p50": "42", "carrier-kdniao-p99": "4750",
		"latest-0-phone": "138****5678", "now": "2026-05-01 17:30:15"} {
		if want[k] != v {
			t.Fatalf("expected %s = %q, computed %q", k, v, want[k])
		}
	}

	start := time.Now()
	dom := dumpDOM(t, bin, srv.URL+"/")
	t.Logf("chromium rendered the page in %s", time.Since(start).Round(time.Millisecond))

	got := map[string]string{}
	for _, m := range dataField.FindAllStringSubmatch(dom, -1) {
		got[html.UnescapeString(m[1])] = html.UnescapeString(m[2])
	}
	for k, v := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("data-field %q not rendered", k)
		} else if g != v {
			t.Errorf("data-field %q = %q, want %q", k, g, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected data-field %q = %q", k, v)
		}
	}
	for _, raw := range []string{rawPhone, rawReceiver, rawAddress, "8765-4321", "Zhang Wei"} {
		if strings.Contains(dom, raw) {
			t.Errorf("rendered page contains %q", raw)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
}

// fixed1 is the page's one-decimal format: Math.round(x*10)/10 with one decimal.
func fixed1(x float64) string {
	return strconv.FormatFloat(math.Round(x*10)/10, 'f', 1, 64)
}

// dumpDOM runs headless Chromium on url and returns the DOM after 5 s of virtual time, enough
// for the first fetch of /api/status and two more polls.
func dumpDOM(t *testing.T, bin, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--no-proxy-server",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", url)
	cmd.Env = append(os.Environ(), "TZ=Asia/Shanghai", "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	return string(out)
}

// TestBrowserShowsUnavailable: when the producer fails, the page says so instead of showing
// numbers.
func TestBrowserShowsUnavailable(t *testing.T) {
	bin := testenv.Chromium(t)
	srv := newServer(t, func(context.Context) (Snapshot, error) { return Snapshot{}, fmt.Errorf("redis down") })
	dom := dumpDOM(t, bin, srv.URL+"/")
	got := map[string]string{}
	for _, m := range dataField.FindAllStringSubmatch(dom, -1) {
		got[html.UnescapeString(m[1])] = html.UnescapeString(m[2])
	}
	for k, v := range map[string]string{"conn": "unavailable (503)", "binlog_lag_seconds": "–", "ready": "–"} {
		if got[k] != v {
			t.Errorf("data-field %q = %q, want %q", k, got[k], v)
		}
	}
}
