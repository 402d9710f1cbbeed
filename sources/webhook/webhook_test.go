package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// fakeDecoder accepts bodies "sig:<waybill>,<waybill>..." and rejects others.
type fakeDecoder struct{}

func (fakeDecoder) Decode(_ *http.Request, body []byte) ([]Update, error) {
	s := string(body)
	switch {
	case strings.HasPrefix(s, "sig:"):
		var out []Update
		for _, w := range strings.Split(strings.TrimPrefix(s, "sig:"), ",") {
			out = append(out, Update{Waybill: w, Status: "in_transit", Known: true})
		}
		return out, nil
	case strings.HasPrefix(s, "forged:"):
		return nil, fmt.Errorf("check: %w", ErrBadSignature)
	default:
		return nil, fmt.Errorf("parse: %w", ErrMalformed)
	}
}

func (fakeDecoder) Reply(w http.ResponseWriter, ok bool, reason string) {
	fmt.Fprintf(w, "ok=%v reason=%s", ok, reason)
}

type fakeApplier map[string]Outcome

func (f fakeApplier) Apply(_ context.Context, _ string, u Update) (Outcome, error) {
	if o, ok := f[u.Waybill]; ok {
		if o == Failed {
			return "", errors.New("redis down")
		}
		return o, nil
	}
	return OK, nil
}

func TestHandler(t *testing.T) {
	var mu sync.Mutex
	counts := map[Outcome]int{}
	count := func(_ string, o Outcome) { mu.Lock(); counts[o]++; mu.Unlock() }
	allow, err := ParseAllow([]string{"127.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{MaxBody: 64, Allow: allow}, Fixed(map[string]Decoder{"sim": fakeDecoder{}}),
		fakeApplier{"W2": Duplicate, "W3": UnknownWaybill, "W4": Failed}, count, slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	h.Register(mux)

	tests := []struct {
		name, path, body, remote string
		status                   int
		reply                    string
		counted                  map[Outcome]int
	}{
		{"two waybills", "/push/sim", "sig:W1,W2", "127.0.0.1:5000", 200, "ok=true", map[Outcome]int{OK: 1, Duplicate: 1}},
		{"unknown waybill asks for a retry", "/push/sim", "sig:W1,W3", "127.0.0.1:5000", 200, "ok=false reason=unknown_waybill W3", map[Outcome]int{OK: 1, UnknownWaybill: 1}},
		{"apply failure asks for a retry", "/push/sim", "sig:W4", "127.0.0.1:5000", 200, "ok=false reason=failed W4", map[Outcome]int{Failed: 1}},
		{"forged", "/push/sim", "forged:W1", "127.0.0.1:5000", 200, "ok=false reason=bad_signature", map[Outcome]int{BadSignature: 1}},
		{"garbage", "/push/sim", "{truncated", "127.0.0.1:5000", 200, "ok=false reason=malformed", map[Outcome]int{Malformed: 1}},
		{"oversized", "/push/sim", "sig:" + strings.Repeat("W", 100), "127.0.0.1:5000", 200, "ok=false", map[Outcome]int{Malformed: 1}},
		{"not on the allow-list", "/push/sim", "sig:W1", "192.0.2.7:5000", 403, "forbidden", map[Outcome]int{Forbidden: 1}},
		{"unknown carrier", "/push/nope", "sig:W1", "127.0.0.1:5000", 404, "unknown carrier", map[Outcome]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clear(counts)
			r := httptest.NewRequest("POST", tt.path, strings.NewReader(tt.body))
			r.RemoteAddr = tt.remote
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			body, _ := io.ReadAll(w.Result().Body)
			if w.Code != tt.status || !strings.Contains(string(body), tt.reply) {
				t.Errorf("got %d %q, want %d %q", w.Code, body, tt.status, tt.reply)
			}
			if fmt.Sprint(counts) != fmt.Sprint(tt.counted) {
				t.Errorf("counted %v, want %v", counts, tt.counted)
			}
		})
	}
}

func TestParseAllow(t *testing.T) {
	got, err := ParseAllow([]string{"10.1.2.3/8", "192.0.2.1"})
	if err != nil || got[0] != netip.MustParsePrefix("10.0.0.0/8") || got[1] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseAllow([]string{"nope"}); err == nil {
		t.Fatal("accepted garbage")
	}
}

func TestClientAddr(t *testing.T) {
	trusted, err := ParseAllow([]string{"10.0.0.0/8", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, peer string
		xff        []string
		want       string // "" : no address
	}{
		{"no proxy: the peer", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"untrusted peer: its header is ignored", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy: the client it saw", "127.0.0.1:40000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a spoofed entry left of the real client is not believed", "127.0.0.1:40000",
			[]string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"trusted hops are skipped from the right", "127.0.0.1:40000", []string{"198.51.100.1", "10.1.2.3"}, "198.51.100.1"},
		{"trusted proxy without a header: the proxy itself", "127.0.0.1:40000", nil, "127.0.0.1"},
		{"garbled hop", "127.0.0.1:40000", []string{"198.51.100.1, not-an-ip"}, ""},
		{"IPv4-mapped peer", "[::ffff:203.0.113.7]:5000", nil, "203.0.113.7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/push/sf", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, ok := ClientAddr(r, trusted)
			if tt.want == "" {
				if ok {
					t.Errorf("got %v, want none", got)
				}
				return
			}
			if !ok || got != netip.MustParseAddr(tt.want) {
				t.Errorf("got %v %v, want %s", got, ok, tt.want)
			}
		})
	}
}
