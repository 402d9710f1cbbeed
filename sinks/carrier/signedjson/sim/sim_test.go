package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/signedjson"
)

const testSecret = "whsec_sim_test"

func start(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s := New(testSecret)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func createBody(t *testing.T, code string) []byte {
	t.Helper()
	b, err := signedjson.NewCreateRequest(signedjson.Order{
		OrderCode: code,
		Receiver: signedjson.Address{Name: "Yann", Phone: "010-12345678", Province: "北京", City: "北京",
			District: "朝阳区", Address: "三里屯街道雅秀大厦"},
	}, "GJ").Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends body with header and returns the status and the decoded answer, checking that
// the answer is signed with the shared secret.
func post(t *testing.T, url, header string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", signedjson.ContentType)
	if header != "" {
		req.Header.Set(signedjson.SignatureHeader, header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signedjson.Verify(resp.Header.Get(signedjson.SignatureHeader), data, []byte(testSecret), time.Now(), 0); err != nil {
		t.Errorf("answer %d %s: signature: %v", resp.StatusCode, data, err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("answer %s: %v", data, err)
	}
	return resp.StatusCode, m
}

func TestCreate(t *testing.T) {
	good := createBody(t, "SO1")
	now := time.Now()
	sign := func(body []byte) string { return signedjson.Sign([]byte(testSecret), now, body) }
	tests := []struct {
		name   string
		header string
		body   []byte
		status int
		stats  Stats
	}{
		{"created", sign(good), good, 200, Stats{Requests: 1, Creates: 1}},
		{"unsigned", "", good, 401, Stats{Requests: 1, Rejects: 1}},
		{"wrong secret", signedjson.Sign([]byte("other"), now, good), good, 401, Stats{Requests: 1, Rejects: 1}},
		{"signed over other bytes", sign(good), append(bytes.Clone(good), ' '), 401, Stats{Requests: 1, Rejects: 1}},
		{"stale", signedjson.Sign([]byte(testSecret), now.Add(-10*time.Minute), good), good, 401, Stats{Requests: 1, Rejects: 1}},
		{"not JSON", sign([]byte("order=1")), []byte("order=1"), 400, Stats{Requests: 1, Invalid: 1}},
		{"unknown field", sign([]byte(`{"order_code":"SO1","colour":"red"}`)), []byte(`{"order_code":"SO1","colour":"red"}`), 400,
			Stats{Requests: 1, Invalid: 1}},
		{"missing receiver", sign([]byte(`{"order_code":"SO1","shipper_code":"GJ"}`)), []byte(`{"order_code":"SO1","shipper_code":"GJ"}`), 400,
			Stats{Requests: 1, Invalid: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := start(t)
			status, answer := post(t, srv.URL+"/v1/waybills", tt.header, tt.body)
			if status != tt.status {
				t.Errorf("status = %d (%v), want %d", status, answer, tt.status)
			}
			if status != 200 && answer["error"] == "" {
				t.Errorf("answer %v has no error", answer)
			}
			if st := s.Stats(); st != tt.stats {
				t.Errorf("stats = %+v, want %+v", st, tt.stats)
			}
			_, created := s.Waybill("SO1")
			if created != (tt.status == 200) {
				t.Errorf("waybill created: %v", created)
			}
		})
	}
}

func TestCreateIdempotent(t *testing.T) {
	s, srv := start(t)
	waybillRE := regexp.MustCompile(`^GJ[0-9]{10}$`)
	var first string
	for i, code := range []string{"SO1", "SO1", "SO2", "SO1"} {
		body := createBody(t, code)
		status, answer := post(t, srv.URL, signedjson.Sign([]byte(testSecret), time.Now(), body), body)
		if status != 200 {
			t.Fatalf("request %d: status %d: %v", i, status, answer)
		}
		w, _ := answer["waybill"].(string)
		if !waybillRE.MatchString(w) {
			t.Errorf("waybill %q does not match %s", w, waybillRE)
		}
		if answer["order_code"] != code {
			t.Errorf("order_code = %v, want %s", answer["order_code"], code)
		}
		if code == "SO1" {
			if first == "" {
				first = w
			} else if w != first || answer["repeat"] != true {
				t.Errorf("request %d: waybill %s repeat %v, want %s repeat true", i, w, answer["repeat"], first)
			}
		}
	}
	if st := s.Stats(); st != (Stats{Requests: 4, Creates: 2, Repeats: 2}) {
		t.Errorf("stats = %+v", st)
	}
	if w, ok := s.Waybill("SO2"); !ok || w != "GJ0000000002" {
		t.Errorf("Waybill(SO2) = %q, %v", w, ok)
	}
	if _, ok := s.Waybill("SO3"); ok {
		t.Error("Waybill(SO3) exists")
	}
}

func TestCreateTooLarge(t *testing.T) {
	s, srv := start(t)
	body := []byte(`{"order_code":"` + strings.Repeat("x", signedjson.MaxBodyBytes) + `"}`)
	status, _ := post(t, srv.URL, signedjson.Sign([]byte(testSecret), time.Now(), body), body)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", status)
	}
	if st := s.Stats(); st != (Stats{Requests: 1, Invalid: 1}) {
		t.Errorf("stats = %+v", st)
	}
}

func TestStatsEndpoint(t *testing.T) {
	s, srv := start(t)
	body := createBody(t, "SO1")
	post(t, srv.URL, signedjson.Sign([]byte(testSecret), time.Now(), body), body)
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got Stats
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got != s.Stats() || got.Creates != 1 {
		t.Errorf("GET /stats = %+v, Stats() = %+v", got, s.Stats())
	}
}

// receiver is a minimal push endpoint built on ParsePush, answering as sources/webhook should.
type receiver struct {
	replays *signedjson.Replays
	mu      sync.Mutex
	events  []signedjson.Event
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, signedjson.MaxBodyBytes))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	events, err := signedjson.ParsePush(r.Header.Get(signedjson.SignatureHeader), body, []byte(testSecret), time.Now(), 0, rc.replays)
	status := http.StatusOK
	switch {
	case errors.Is(err, signedjson.ErrMalformed):
		status = http.StatusBadRequest
	case errors.Is(err, signedjson.ErrReplay):
		status = http.StatusConflict
	case err != nil:
		status = http.StatusUnauthorized
	}
	w.Header().Set("Content-Type", signedjson.ContentType)
	w.WriteHeader(status)
	if err != nil {
		_, _ = w.Write(signedjson.PushReply(false, err.Error()))
		return
	}
	rc.mu.Lock()
	rc.events = append(rc.events, events...)
	rc.mu.Unlock()
	_, _ = w.Write(signedjson.PushReply(true, ""))
}

func TestPush(t *testing.T) {
	s := New(testSecret)
	rc := &receiver{replays: signedjson.NewReplays(0, 0)}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	events := []signedjson.Event{
		{ID: "e1", Waybill: "GJ0000000001", OrderCode: "SO1", Status: signedjson.StatusPickedUp, Time: now.Add(-time.Hour)},
		{ID: "e2", Waybill: "GJ0000000001", OrderCode: "SO1", Status: signedjson.StatusInTransit, Time: now},
	}
	body, err := signedjson.EncodePush(events)
	if err != nil {
		t.Fatal(err)
	}
	// Signed a few seconds before Push signs the same bytes: signed within the same second, the
	// two would be byte-identical and the second a replay.
	header := signedjson.Sign([]byte(testSecret), now.Add(-3*time.Second), body)
	tests := []struct {
		name   string
		push   func() (int, error)
		status int
	}{
		{"signed push", func() (int, error) { return s.Push(ctx, srv.URL, events) }, 200},
		{"raw push", func() (int, error) { return s.PushRaw(ctx, srv.URL, header, body) }, 200},
		{"same bytes again", func() (int, error) { return s.PushRaw(ctx, srv.URL, header, body) }, 409},
		{"unsigned", func() (int, error) { return s.PushRaw(ctx, srv.URL, "", body) }, 401},
		{"forged", func() (int, error) {
			return s.PushRaw(ctx, srv.URL, signedjson.Sign([]byte("guess"), now, body), body)
		}, 401},
		{"tampered", func() (int, error) {
			return s.PushRaw(ctx, srv.URL, header, bytes.Replace(body, []byte("in_transit"), []byte("delivered"), 1))
		}, 401},
		{"stale", func() (int, error) {
			return s.PushRaw(ctx, srv.URL, signedjson.Sign([]byte(testSecret), now.Add(-time.Hour), body), body)
		}, 401},
		{"malformed", func() (int, error) {
			bad := []byte(`{"events":[{"waybill":"GJ0000000001","status":"lost","time":"2024-05-01T10:00:00Z"}]}`)
			return s.PushRaw(ctx, srv.URL, signedjson.Sign([]byte(testSecret), now, bad), bad)
		}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, err := tt.push()
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status {
				t.Errorf("status = %d, want %d", status, tt.status)
			}
		})
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.events) != 4 {
		t.Fatalf("receiver got %d events, want 4 (two accepted pushes of two)", len(rc.events))
	}
	if got := rc.events[1]; got.ID != "e2" || got.Status != signedjson.StatusInTransit || !got.Time.Equal(now) {
		t.Errorf("event = %+v", got)
	}
	if st := s.Stats(); st.Pushes != int64(len(tests)) {
		t.Errorf("Pushes = %d, want %d", st.Pushes, len(tests))
	}
}

func TestPushUnreachable(t *testing.T) {
	s := New(testSecret)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if _, err := s.Push(context.Background(), url, []signedjson.Event{{Waybill: "W", Status: "created", Time: time.Now()}}); err == nil {
		t.Error("Push to a closed server succeeded")
	}
}
