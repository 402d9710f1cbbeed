package statuspage

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// routeConsole is a Console in memory that records what it was asked to do, and by whom.
type routeConsole struct {
	mu   sync.Mutex
	done []string // "cancel 1 by ops", ...
}

func (c *routeConsole) Series(_ context.Context, span string) (Series, error) {
	return Series{Span: span, StepSeconds: 10, Points: []Point{{Shipped: 2, LagSeconds: math.NaN(),
		Carriers: map[string]CarrierPoint{"kdniao": {Requests: 2, P99Seconds: math.Inf(1)}}}}}, nil
}

func (c *routeConsole) Stuck(context.Context) (Stuck, error) {
	return Stuck{Dead: []StuckRow{{Key: "1", Reason: "refused"}}}, nil
}

func (c *routeConsole) Order(_ context.Context, ref string) (OrderPage, bool, error) {
	if ref != "1" && ref != "SO1" && ref != "ZT1" {
		return OrderPage{}, false, nil
	}
	return OrderPage{Key: "1", OrderCode: "SO1", Waybill: "ZT1", Labels: []LabelRef{{Waybill: "ZT1", Parcel: 1}}}, true, nil
}

func (c *routeConsole) Search(_ context.Context, q string) ([]SearchRow, error) {
	if q == "ZT1" {
		return []SearchRow{{Key: "1", Matched: "waybill"}}, nil
	}
	return nil, nil
}

func (c *routeConsole) record(ctx context.Context, what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = append(c.done, what+" by "+OperatorOf(ctx))
}

func (c *routeConsole) Cancel(ctx context.Context, key string) (string, error) {
	if key != "1" {
		return "", ErrNoOrder
	}
	c.record(ctx, "cancel "+key)
	return "cancelled", nil
}

func (c *routeConsole) Reissue(ctx context.Context, key string) (string, error) {
	c.record(ctx, "reissue "+key)
	return "ZT2", nil
}

func (c *routeConsole) Pause(ctx context.Context, name string, paused bool) error {
	if name != "kdniao" {
		return ErrUnknownCarrier
	}
	c.record(ctx, map[bool]string{true: "pause ", false: "resume "}[paused]+name)
	return nil
}

func consoleServer(t *testing.T, c Console, actions bool, key []byte) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	New(fixed(fixture())).WithConsole(c).WithLabels(fakeLabels{}).WithLinkKey(key).
		WithDeadLetter(&fakeDead{}, actions, slog.New(slog.DiscardHandler)).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, operator string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	if operator != "" {
		req.Header.Set(OperatorHeader, operator)
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
	return res.StatusCode, string(b)
}

func TestConsoleRoutes(t *testing.T) {
	c := &routeConsole{}
	srv := consoleServer(t, c, true, nil)
	for _, g := range []struct {
		path string
		want int
		body string
	}{
		{"/api/series", 200, `"span":"1h"`},
		{"/api/series?span=1d", 200, `"span":"1d"`},
		{"/api/series?span=1y", 400, "span"},
		{"/api/series", 200, `"lag_seconds":0`}, // NaN and infinity leave as 0
		{"/api/stuck", 200, `"retrying":[]`},    // no nil lists
		{"/api/orders/ZT1", 200, `"url":"api/labels/ZT1"`},
		{"/api/orders/nope", 404, "no such order"},
		{"/api/search?q=ZT1", 200, `"matched":"waybill"`},
		{"/api/search?q=none", 200, `[]`},
		{"/api/search", 400, "q:"},
	} {
		res, body := get(t, http.MethodGet, srv.URL+g.path)
		if res.StatusCode != g.want || !strings.Contains(body, g.body) {
			t.Errorf("GET %s = %d %s, want %d with %q", g.path, res.StatusCode, body, g.want, g.body)
		}
	}
	for _, p := range []struct {
		path string
		want int
		body string
	}{
		{"/api/waybills/1/cancel", 200, `"outcome":"cancelled"`},
		{"/api/waybills/9/cancel", 404, "no such order"},
		{"/api/waybills/1/reissue", 200, `"waybill":"ZT2"`},
		{"/api/waybills/1/explode", 404, ""},
		{"/api/carriers/kdniao/pause", 200, `"paused":true`},
		{"/api/carriers/kdniao/resume", 200, `"paused":false`},
		{"/api/carriers/nope/pause", 404, "no such carrier"},
	} {
		if code, body := post(t, srv.URL+p.path, "ops 张"); code != p.want || !strings.Contains(body, p.body) {
			t.Errorf("POST %s = %d %s, want %d with %q", p.path, code, body, p.want, p.body)
		}
	}
	if got := strings.Join(c.done, ", "); got != "cancel 1 by ops 张, reissue 1 by ops 张, pause kdniao by ops 张, resume kdniao by ops 张" {
		t.Errorf("done: %s", got)
	}
	// No control or format character of a name reaches the log or a timeline.
	c.done = nil
	post(t, srv.URL+"/api/waybills/1/cancel", "ev\u202eil\u2028x")
	if got := strings.Join(c.done, ""); got != "cancel 1 by evilx" {
		t.Errorf("operator name passed as %q", got)
	}
	// A GET never acts.
	if res, _ := get(t, http.MethodGet, srv.URL+"/api/waybills/1/cancel"); res.StatusCode == 200 {
		t.Errorf("GET of an action answered 200")
	}

	// Without a token on the listener, actions are refused and nothing is done.
	c = &routeConsole{}
	srv = consoleServer(t, c, false, nil)
	for _, path := range []string{"/api/waybills/1/cancel", "/api/waybills/1/reissue", "/api/carriers/kdniao/pause"} {
		if code, body := post(t, srv.URL+path, ""); code != http.StatusForbidden || !strings.Contains(body, "admin.token") {
			t.Errorf("POST %s without admin.token = %d %s", path, code, body)
		}
	}
	if len(c.done) != 0 {
		t.Errorf("done without a token: %v", c.done)
	}
	res, body := get(t, http.MethodGet, srv.URL+"/api/status")
	var s Snapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil || res.StatusCode != 200 || s.Actions {
		t.Errorf("status without a token: actions %v (%v)", s.Actions, err)
	}
}

// TestSignedLinks: with a link key the order page's and the status's label links carry a
// signature that SignedLink accepts for that document only, until it expires.
func TestSignedLinks(t *testing.T) {
	key := LinkKey("a-token-of-16-chars")
	srv := consoleServer(t, &routeConsole{}, true, key)
	_, body := get(t, http.MethodGet, srv.URL+"/api/orders/1")
	var o OrderPage
	if err := json.Unmarshal([]byte(body), &o); err != nil || len(o.Labels) != 1 {
		t.Fatalf("order page %s: %v", body, err)
	}
	u := o.Labels[0].URL
	if !strings.HasPrefix(u, "api/labels/ZT1?exp=") || !strings.Contains(u, "&sig=") {
		t.Fatalf("label link %q is not signed", u)
	}
	if r := httptest.NewRequest(http.MethodGet, "/"+u, nil); !SignedLink(r, key) {
		t.Errorf("the page's own link %q is refused", u)
	}
	if r := httptest.NewRequest(http.MethodGet, "/"+u, nil); SignedLink(r, LinkKey("another-token-0000")) {
		t.Errorf("a link is accepted under another token")
	}
	if r := httptest.NewRequest(http.MethodGet, "/"+strings.Replace(u, "ZT1", "ZT2", 1), nil); SignedLink(r, key) {
		t.Errorf("a link opens another label")
	}
	old := Sign(key, "api/labels/ZT1", time.Now().Add(-time.Second))
	if r := httptest.NewRequest(http.MethodGet, "/"+old, nil); SignedLink(r, key) {
		t.Errorf("an expired link is accepted")
	}
	_, body = get(t, http.MethodGet, srv.URL+"/api/status")
	var s Snapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.Labels == nil || !strings.HasPrefix(s.Labels.URL, "labels/unprinted?exp=") {
		t.Errorf("status labels link %+v", s.Labels)
	}
}
