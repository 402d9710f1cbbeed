package statuspage

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeDead is a dead letter in memory.
type fakeDead struct {
	mu   sync.Mutex
	rows []DeadRow
	done []string // "retry 1", "drop 2", in order
}

func (f *fakeDead) Dead(context.Context, int) ([]DeadRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]DeadRow(nil), f.rows...), nil
}

func (f *fakeDead) take(verb, key string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if key == "pinned" {
		return false, errors.New("pinned to another carrier")
	}
	for i, r := range f.rows {
		if r.Key == key {
			f.rows = append(f.rows[:i], f.rows[i+1:]...)
			f.done = append(f.done, verb+" "+key)
			return true, nil
		}
	}
	return false, nil
}

func (f *fakeDead) Retry(_ context.Context, key string) (bool, error) { return f.take("retry", key) }
func (f *fakeDead) Drop(_ context.Context, key string) (bool, error)  { return f.take("drop", key) }

func deadServer(t *testing.T, f *fakeDead, actions bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	New(fixed(fixture())).WithDeadLetter(f, actions, slog.New(slog.DiscardHandler)).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestDeadLetterAPI(t *testing.T) {
	f := &fakeDead{rows: []DeadRow{{Key: "1", Reason: "receiver_mobile: ***4567 is not a mainland mobile number"},
		{Key: "2", Reason: "carrier refused: 102 bad city"}, {Key: "3", Reason: "receiver_mobile: ***0000 is not a mainland mobile number"}}}
	srv := deadServer(t, f, true)
	if res, body := get(t, http.MethodGet, srv.URL+"/api/dlq"); res.StatusCode != 200 || strings.Count(body, `"order"`) != 3 {
		t.Fatalf("GET /api/dlq = %d %s", res.StatusCode, body)
	}
	for _, c := range []struct {
		method, path string
		want         int
		body         string
	}{
		{http.MethodGet, "/api/dlq/1/retry", http.StatusMethodNotAllowed, ""}, // a GET never changes anything
		{http.MethodPost, "/api/dlq/1/explode", http.StatusNotFound, ""},
		{http.MethodPost, "/api/dlq/retry", http.StatusBadRequest, ""}, // no reason
		{http.MethodPost, "/api/dlq/2/drop", 200, `"orders":["2"]`},
		{http.MethodPost, "/api/dlq/2/drop", 200, `"missed":["2"]`}, // gone already
		{http.MethodPost, "/api/dlq/pinned/retry", http.StatusConflict, "pinned"},
		{http.MethodPost, "/api/dlq/retry?reason=receiver_mobile", 200, `"orders":["1","3"]`},
	} {
		res, body := get(t, c.method, srv.URL+c.path)
		if res.StatusCode != c.want || !strings.Contains(body, c.body) {
			t.Errorf("%s %s = %d %s, want %d with %q", c.method, c.path, res.StatusCode, body, c.want, c.body)
		}
	}
	if got := strings.Join(f.done, ", "); got != "drop 2, retry 1, retry 3" {
		t.Errorf("actions carried out: %s", got)
	}
	// Without a token on the listener, actions are refused and change nothing.
	f = &fakeDead{rows: []DeadRow{{Key: "1"}}}
	srv = deadServer(t, f, false)
	if res, body := get(t, http.MethodPost, srv.URL+"/api/dlq/1/retry"); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "admin.token") || len(f.done) != 0 {
		t.Errorf("an action without admin.token: %d %s, done %v", res.StatusCode, body, f.done)
	}
	if res, _ := get(t, http.MethodGet, srv.URL+"/api/dlq"); res.StatusCode != 200 {
		t.Errorf("reading the dead letter without a token: %d, want 200", res.StatusCode)
	}
}
