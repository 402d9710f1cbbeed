package statuspage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Raw personal data in the fixture; none of it may leave the handler.
const (
	rawPhone    = "13812345678"
	rawPhone2   = "+86 139-8765-4321"
	rawReceiver = "张伟"
	rawAddress  = "北京市朝阳区建国路88号SOHO现代城5号楼1203"
)

// fixture is a snapshot as sync/pipeline would fill it, with raw personal data.
func fixture() Snapshot {
	at := time.Date(2026, 5, 1, 9, 30, 15, 123456789, time.UTC)
	return Snapshot{
		Now:                  at,
		Ready:                true,
		BinlogLagSeconds:     1.26,
		Checkpoint:           "mysql-bin.000002:1234",
		CheckpointAgeSeconds: 0.44,
		OrdersPerMinute:      37.25,
		RetryQueue:           3,
		DeadLetter:           1,
		StaleParcels:         2,
		CancelAfterPickup:    1,
		Carriers: []CarrierStats{
			{Name: "sim", Requests: 1234, SuccessRate: 0.9876, P50Seconds: 0.0423, P99Seconds: 0.3187},
			{Name: "kdniao", Requests: 17, SuccessRate: 0.5, P50Seconds: 1.2, P99Seconds: 4.75},
		},
		Latest: []OrderRow{
			{Key: "1042", OrderCode: "2026050112345", Carrier: "sim", Waybill: "SF1000000042", State: "written_back",
				Status: "in_transit", Exception: true, Receiver: rawReceiver, Phone: rawPhone, Address: rawAddress,
				UpdatedAt: at.Add(-3 * time.Second)},
			{Key: "1041", OrderCode: "2026050112344", Carrier: "kdniao", Waybill: "", State: "retrying",
				Status: "", Receiver: "Zhang Wei", Phone: rawPhone2, Address: "1 Main Street, Springfield",
				UpdatedAt: at.Add(-2 * time.Minute)},
		},
		Labels: &Labels{Unprinted: 7, Batches: []LabelBatch{{ID: "20260501-080000-a1b2c3", At: at.Add(-90 * time.Minute), Count: 42}}},
	}
}

func newServer(t *testing.T, snap func(context.Context) (Snapshot, error)) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	New(snap).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func fixed(s Snapshot) func(context.Context) (Snapshot, error) {
	return func(context.Context) (Snapshot, error) { return s, nil }
}

func get(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestStatusJSONIsMasked(t *testing.T) {
	snap := fixture()
	srv := newServer(t, fixed(snap))
	res, body := get(t, http.MethodGet, srv.URL+"/api/status")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	// json.Marshal escapes nothing in these strings, but check the decoded values too in case
	// a future encoder does.
	for _, raw := range []string{rawPhone, "8765-4321", "87654321", rawReceiver, "Zhang Wei", rawAddress, "建国路", "Main Street"} {
		if strings.Contains(body, raw) {
			t.Errorf("body contains %q:\n%s", raw, body)
		}
	}
	var got Snapshot
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := []struct{ receiver, phone, address string }{
		{"张*", "138****5678", "北京市朝阳区…"},
		{"Z***", "+86 1**-****-4321", "1 Main…"},
	}
	if len(got.Latest) != len(want) {
		t.Fatalf("latest has %d rows, want %d", len(got.Latest), len(want))
	}
	for i, w := range want {
		o := got.Latest[i]
		if o.Receiver != w.receiver || o.Phone != w.phone || o.Address != w.address {
			t.Errorf("latest[%d] = %q %q %q, want %q %q %q", i, o.Receiver, o.Phone, o.Address, w.receiver, w.phone, w.address)
		}
	}
	if got.Latest[0].OrderCode != "2026050112345" || got.Latest[0].Waybill != "SF1000000042" || !got.Latest[0].Exception {
		t.Errorf("latest[0] not passed through: %+v", got.Latest[0])
	}
	if !got.Now.Equal(snap.Now) || got.Checkpoint != snap.Checkpoint || got.RetryQueue != 3 || len(got.Carriers) != 2 {
		t.Errorf("snapshot not passed through: %+v", got)
	}
	// The producer's snapshot is not modified by masking.
	if snap.Latest[0].Phone != rawPhone {
		t.Errorf("producer's row was modified: %q", snap.Latest[0].Phone)
	}
}

func TestStatusJSONKeys(t *testing.T) {
	srv := newServer(t, fixed(fixture()))
	_, body := get(t, http.MethodGet, srv.URL+"/api/status")
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"now", "ready", "binlog_lag_seconds", "checkpoint", "checkpoint_age_seconds",
		"orders_per_minute", "retry_queue", "dead_letter", "stale_parcels", "carriers", "latest"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing key %q", k)
		}
	}
	c := m["carriers"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "requests", "success_rate", "p50_seconds", "p99_seconds"} {
		if _, ok := c[k]; !ok {
			t.Errorf("carriers[0] missing key %q", k)
		}
	}
	o := m["latest"].([]any)[0].(map[string]any)
	for _, k := range []string{"key", "order_code", "carrier", "waybill", "state", "status", "exception",
		"receiver", "phone", "address", "updated_at"} {
		if _, ok := o[k]; !ok {
			t.Errorf("latest[0] missing key %q", k)
		}
	}
}

func TestStatusJSONEdges(t *testing.T) {
	s := Snapshot{Carriers: []CarrierStats{{Name: "idle", SuccessRate: math.NaN(), P99Seconds: math.Inf(1)}}}
	for i := range MaxLatest + 5 {
		s.Latest = append(s.Latest, OrderRow{Key: string(rune('a' + i))})
	}
	srv := newServer(t, fixed(s))
	res, body := get(t, http.MethodGet, srv.URL+"/api/status")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	var got Snapshot
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Latest) != MaxLatest || got.Latest[0].Key != "a" {
		t.Errorf("latest: %d rows starting %q, want %d starting \"a\"", len(got.Latest), got.Latest[0].Key, MaxLatest)
	}
	if got.Carriers[0].SuccessRate != 0 || got.Carriers[0].P99Seconds != 0 {
		t.Errorf("non-finite values not zeroed: %+v", got.Carriers[0])
	}
	if got.Now.IsZero() {
		t.Error("now left zero")
	}

	// Empty lists are [] so the page can iterate them.
	srv = newServer(t, fixed(Snapshot{}))
	_, body = get(t, http.MethodGet, srv.URL+"/api/status")
	if !strings.Contains(body, `"carriers":[]`) || !strings.Contains(body, `"latest":[]`) {
		t.Errorf("empty lists not []: %s", body)
	}
}

func TestStatusUnavailable(t *testing.T) {
	var gotDeadline bool
	srv := newServer(t, func(ctx context.Context) (Snapshot, error) {
		_, gotDeadline = ctx.Deadline()
		return Snapshot{}, errors.New("redis 10.0.0.7:6379: connection refused")
	})
	res, body := get(t, http.MethodGet, srv.URL+"/api/status")
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", res.StatusCode)
	}
	if strings.Contains(body, "10.0.0.7") {
		t.Errorf("error detail leaked: %s", body)
	}
	if !gotDeadline {
		t.Error("snapshot called without a deadline")
	}
}

func TestRoutesAndHeaders(t *testing.T) {
	srv := newServer(t, fixed(fixture()))
	for _, tc := range []struct {
		method, path string
		code         int
		ctype        string
	}{
		{"GET", "/", 200, "text/html"},
		{"HEAD", "/", 200, "text/html"},
		{"GET", "/static/app.js", 200, "text/javascript"},
		{"GET", "/static/app.css", 200, "text/css"},
		{"GET", "/api/status", 200, "application/json"},
		{"HEAD", "/api/status", 200, "application/json"},
		{"POST", "/", 405, ""},
		{"POST", "/api/status", 405, ""},
		{"PUT", "/api/status", 405, ""},
		{"DELETE", "/api/status", 405, ""},
		{"PATCH", "/static/app.js", 405, ""},
		{"OPTIONS", "/", 405, ""},
		{"GET", "/index.html", 404, ""},
		{"GET", "/static/", 404, ""},
		{"GET", "/api/status/x", 404, ""},
	} {
		res, _ := get(t, tc.method, srv.URL+tc.path)
		if res.StatusCode != tc.code {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, res.StatusCode, tc.code)
			continue
		}
		if tc.code == 404 {
			continue
		}
		if tc.code == 405 && res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, res.Header.Get("Allow"))
		}
		if tc.ctype != "" && !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s %s: Content-Type %q, want %s", tc.method, tc.path, res.Header.Get("Content-Type"), tc.ctype)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self';") ||
			strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
			t.Errorf("%s %s: Content-Security-Policy %q", tc.method, tc.path, csp)
		}
		if v := res.Header.Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options %q", tc.method, tc.path, v)
		}
	}
}

// TestAssetsSelfContained: nothing the page loads may point anywhere but its own origin, and the
// CSP forbids inline code, so the HTML must carry none.
func TestAssetsSelfContained(t *testing.T) {
	for _, name := range []string{"page.html", "static/app.js", "static/app.css"} {
		b := asset(name)
		lower := strings.ToLower(string(b))
		for _, bad := range []string{"http", "//", "url(", "@import", "data:"} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
	page := strings.ToLower(string(asset("page.html")))
	if n := strings.Count(page, "<script"); n != 1 || !strings.Contains(page, `<script src="static/app.js" defer></script>`) {
		t.Errorf("page.html must load exactly static/app.js and no inline script (%d script tags)", n)
	}
	if strings.Contains(page, "<style") || strings.Contains(page, " style=") || regexp.MustCompile(` on[a-z]+=`).MatchString(page) {
		t.Error("page.html has inline style or event handlers, which the CSP blocks")
	}
	for _, ref := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if ref[1] != "static/app.js" && ref[1] != "static/app.css" && ref[1] != "labels/unprinted" { // the last: same origin
			t.Errorf("page.html references %q", ref[1])
		}
	}
	js := string(asset("static/app.js"))
	if strings.Contains(js, "innerHTML") || strings.Contains(js, "eval(") {
		t.Error("app.js must set values with textContent only")
	}
}

// TestLabelDocuments: GET /labels/{which} serves the document doc makes, with a CSP that lets
// carrier templates style themselves and nothing leave; unknown labels are 404, anything but
// GET 405, and without WithLabels there is no such path.
func TestLabelDocuments(t *testing.T) {
	mux := http.NewServeMux()
	New(fixed(fixture())).WithLabels(fakeLabels{}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, body := get(t, http.MethodGet, srv.URL+"/labels/unprinted")
	if res.StatusCode != 200 || body != "<!doctype html><p>labels</p>" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("GET /labels/unprinted = %d %q, CSP %q", res.StatusCode, body, res.Header.Get("Content-Security-Policy"))
	}
	if res, body := get(t, http.MethodGet, srv.URL+"/api/labels/SIM1"); res.StatusCode != 200 || body != "<p>SIM1</p>" {
		t.Errorf("GET /api/labels/SIM1 = %d %q", res.StatusCode, body)
	}
	for _, path := range []string{"/labels/nope", "/api/labels/nope"} {
		if res, _ := get(t, http.MethodGet, srv.URL+path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
	res, body = get(t, http.MethodGet, srv.URL+"/api/labels?batch=next")
	var rows []LabelRow
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &rows) != nil || len(rows) != 1 || rows[0].Waybill != "SIM2" {
		t.Errorf("GET /api/labels?batch=next = %d %s, want the one unprinted label", res.StatusCode, body)
	}
	for _, q := range []string{"since=yesterday", "since=-1h", "batch=all"} {
		if res, _ := get(t, http.MethodGet, srv.URL+"/api/labels?"+q); res.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /api/labels?%s: %d, want 400", q, res.StatusCode)
		}
	}
	if res, _ := get(t, http.MethodPost, srv.URL+"/labels/unprinted"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", res.StatusCode)
	}
	if res, _ := get(t, http.MethodGet, newServer(t, fixed(fixture())).URL+"/labels/unprinted"); res.StatusCode != http.StatusNotFound {
		t.Errorf("without labels: %d, want 404", res.StatusCode)
	}
}

type fakeLabels struct{}

func (fakeLabels) Document(_ context.Context, which string) ([]byte, error) {
	if which != "unprinted" {
		return nil, ErrNoLabels
	}
	return []byte("<!doctype html><p>labels</p>"), nil
}

func (fakeLabels) One(_ context.Context, waybill string) ([]byte, error) {
	if waybill != "SIM1" {
		return nil, ErrNoLabels
	}
	return []byte("<p>SIM1</p>"), nil
}

func (fakeLabels) List(_ context.Context, _ time.Time, unprinted bool) ([]LabelRow, error) {
	rows := []LabelRow{{Waybill: "SIM1", PrintedAt: time.Now()}, {Waybill: "SIM2"}}
	if unprinted {
		return rows[1:], nil
	}
	return rows, nil
}
