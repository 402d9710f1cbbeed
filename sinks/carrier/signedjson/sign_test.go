package signedjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

type vector struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
	T      int64  `json:"t"`
	Body   string `json:"body"`
	Header string `json:"header"`
	Valid  bool   `json:"valid"`
}

func loadVectors(t *testing.T) map[string]vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	m := make(map[string]vector, len(f.Vectors))
	for _, v := range f.Vectors {
		m[v.Name] = v
	}
	for _, name := range []string{"push", "create, UTF-8 and &", "empty body", "push, other secret", "push, upper-case hex"} {
		if _, ok := m[name]; !ok {
			t.Fatalf("testdata/vectors.json lacks %q", name)
		}
	}
	return m
}

func TestSignVectors(t *testing.T) {
	for name, v := range loadVectors(t) {
		t.Run(name, func(t *testing.T) {
			at := time.Unix(v.T, 0)
			got := Sign([]byte(v.Secret), at, []byte(v.Body))
			if (got == v.Header) != v.Valid {
				t.Errorf("Sign = %q, vector %q, valid %v", got, v.Header, v.Valid)
			}
			signed, err := Verify(v.Header, []byte(v.Body), []byte(v.Secret), at.Add(42*time.Second), 0)
			if (err == nil) != v.Valid {
				t.Fatalf("Verify err = %v, want valid %v", err, v.Valid)
			}
			if err != nil && !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify err = %v, want ErrBadSignature", err)
			}
			if !signed.Equal(at) {
				t.Errorf("signed time = %v, want %v", signed, at)
			}
		})
	}
}

// TestCreateBodyVector proves that the encoder writes the bytes of the create vector, so the
// vector's signature is one that the client really sends.
func TestCreateBodyVector(t *testing.T) {
	v := loadVectors(t)["create, UTF-8 and &"]
	o := Order{
		OrderCode: "SO20240501001",
		Sender: Address{Name: "Taylor", Mobile: "15018442396", Province: "上海", City: "上海", District: "青浦区",
			Address: "明珠路73号"},
		Receiver: Address{Name: "Yann", Mobile: "15018442396", Province: "北京", City: "北京", District: "朝阳区",
			Address: "三里屯街道雅秀大厦"},
		Items:    []Item{{Name: "鞋子 A&B+C", Quantity: 1, WeightKg: 1, Price: 99.5}},
		WeightKg: 1,
		Remark:   "小心轻放",
	}
	got, err := NewCreateRequest(o, "GJ").Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != v.Body {
		t.Fatalf("encoded\n%s\nwant\n%s", got, v.Body)
	}
}

func TestVerify(t *testing.T) {
	v := loadVectors(t)["push"]
	secret, body := []byte(v.Secret), []byte(v.Body)
	at := time.Unix(v.T, 0)
	good := v.Header
	sig := strings.TrimPrefix(good, "t=1700000000,v1=")
	other := Sign([]byte("whsec_test_0002"), at, body)
	otherSig := other[strings.Index(other, "v1=")+3:]
	changed := []byte(v.Body)
	changed[len(changed)-6] ^= 0x01 // the last digit of the event time: 20 becomes 21
	tests := []struct {
		name      string
		header    string
		body      []byte
		secret    []byte
		now       time.Time
		tolerance time.Duration
		want      error // nil: verifies
	}{
		{"good", good, body, secret, at, 0, nil},
		{"good, 300 s old", good, body, secret, at.Add(300 * time.Second), 0, nil},
		{"good, 300 s early", good, body, secret, at.Add(-300 * time.Second), 0, nil},
		{"good, spaces around entries", " t=1700000000 , v1=" + sig + " ", body, secret, at, 0, nil},
		{"good, v1 before t", "v1=" + sig + ",t=1700000000", body, secret, at, 0, nil},
		{"good, unknown scheme ignored", "t=1700000000,v0=abc,v1=" + sig, body, secret, at, 0, nil},
		{"two v1, second valid", "t=1700000000,v1=" + otherSig + ",v1=" + sig, body, secret, at, 0, nil},
		{"two v1, first valid", "t=1700000000,v1=" + sig + ",v1=" + otherSig, body, secret, at, 0, nil},
		{"wrong secret", good, body, []byte("whsec_test_0002"), at, 0, ErrBadSignature},
		{"no secret", good, body, nil, at, 0, ErrBadSignature},
		{"upper-case hex", "t=1700000000,v1=" + strings.ToUpper(sig), body, secret, at, 0, ErrBadSignature},
		{"truncated signature", good[:len(good)-1], body, secret, at, 0, ErrBadSignature},
		{"body changed by one byte", good, changed, secret, at, 0, ErrBadSignature},
		{"body with trailing newline", good, append([]byte(v.Body), '\n'), secret, at, 0, ErrBadSignature},
		{"timestamp changed", "t=1700000001,v1=" + sig, body, secret, at, 0, ErrBadSignature},
		{"timestamp with leading zero", "t=01700000000,v1=" + sig, body, secret, at, 0, ErrBadSignature},
		{"two v1, none valid", "t=1700000000,v1=" + otherSig + ",v1=" + otherSig, body, secret, at, 0, ErrBadSignature},
		{"missing header", "", body, secret, at, 0, ErrNoSignature},
		{"blank header", "  ", body, secret, at, 0, ErrNoSignature},
		{"no v1", "t=1700000000", body, secret, at, 0, ErrNoSignature},
		{"no t", "v1=" + sig, body, secret, at, 0, ErrBadSignature},
		{"two t", "t=1700000000,t=1700000000,v1=" + sig, body, secret, at, 0, ErrBadSignature},
		{"t not a number", "t=17e8,v1=" + sig, body, secret, at, 0, ErrBadSignature},
		{"t negative", "t=-1,v1=" + sig, body, secret, at, 0, ErrBadSignature},
		{"entry without =", "t=1700000000,v1" + sig, body, secret, at, 0, ErrBadSignature},
		{"t 301 s old", good, body, secret, at.Add(301 * time.Second), 0, ErrStale},
		{"t 301 s in the future", good, body, secret, at.Add(-301 * time.Second), 0, ErrStale},
		{"t a day old", good, body, secret, at.Add(24 * time.Hour), 0, ErrStale},
		{"tolerance 10 s, 11 s old", good, body, secret, at.Add(11 * time.Second), 10 * time.Second, ErrStale},
		{"tolerance 10 s, 10 s old", good, body, secret, at.Add(10 * time.Second), 10 * time.Second, nil},
		{"t far in the future, authentic", Sign(secret, time.Unix(999_999_999_999_999_999, 0), body), body, secret, at, 0, ErrStale},
		{"t zero, authentic", Sign(secret, time.Unix(0, 0), body), body, secret, at, 0, ErrStale},
		{"stale and forged", "t=1700000000,v1=" + otherSig, body, secret, at.Add(time.Hour), 0, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.header, tt.body, tt.secret, tt.now, tt.tolerance)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify err = %v, want %v", err, tt.want)
			}
			if msg := err.Error(); strings.Contains(msg, sig) || strings.Contains(msg, v.Secret) {
				t.Errorf("error message leaks the signature or secret: %s", msg)
			}
		})
	}
}

func TestSignRoundTrip(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Date(2024, 5, 1, 10, 0, 0, 900_000_000, time.UTC)
	body := []byte(`{"a":"b & c"}`)
	h := Sign(secret, now, body)
	if !strings.HasPrefix(h, "t=1714557600,v1=") || len(h) != len("t=1714557600,v1=")+64 {
		t.Fatalf("Sign = %q", h)
	}
	got, err := Verify(h, body, secret, now, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(now.Truncate(time.Second)) {
		t.Errorf("signed time = %v", got)
	}
}

func TestReplays(t *testing.T) {
	base := time.Unix(1700000000, 0)
	type step struct {
		sig  string
		t    time.Duration // after base
		seen bool
	}
	tests := []struct {
		name       string
		window     time.Duration
		maxEntries int
		steps      []step
	}{
		{"second use rejected", time.Minute, 10, []step{{"a", 0, false}, {"a", 0, true}, {"a", 0, true}}},
		{"different signatures accepted", time.Minute, 10, []step{{"a", 0, false}, {"b", 0, false}, {"c", time.Second, false}}},
		{"replay within window rejected", time.Minute, 10, []step{{"a", 0, false}, {"b", 119 * time.Second, false}, {"a", 0, true}}},
		// Once the newest signed time is more than 2 windows ahead, "a" could not pass Verify
		// any more and is forgotten.
		{"expired after two windows", time.Minute, 10, []step{{"a", 0, false}, {"b", 121 * time.Second, false}, {"a", 0, false}}},
		{"older than the horizon not recorded", time.Minute, 10, []step{{"b", 10 * time.Minute, false}, {"a", 0, false}, {"a", 0, false}}},
		{"out of order within window", time.Minute, 10, []step{{"b", 30 * time.Second, false}, {"a", 0, false}, {"b", 30 * time.Second, true}, {"a", 0, true}}},
		{"full: oldest forgotten", time.Minute, 2, []step{{"a", 0, false}, {"b", time.Second, false}, {"c", 2 * time.Second, false},
			{"b", time.Second, true}, {"c", 2 * time.Second, true}, {"a", 0, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReplays(tt.window, tt.maxEntries)
			for i, s := range tt.steps {
				if got := r.Seen(s.sig, base.Add(s.t)); got != s.seen {
					t.Fatalf("step %d: Seen(%q, +%v) = %v, want %v", i, s.sig, s.t, got, s.seen)
				}
				if n := r.Len(); n > tt.maxEntries {
					t.Fatalf("step %d: %d entries, max %d", i, n, tt.maxEntries)
				}
			}
		})
	}
}

func TestReplaysBounded(t *testing.T) {
	r := NewReplays(time.Minute, 0)
	base := time.Unix(1700000000, 0)
	for i := range 10_000 {
		// One per 10 ms: at most 12,000 fit in two windows, all of them do here.
		r.Seen(fmt.Sprint(i), base.Add(time.Duration(i)*10*time.Millisecond))
	}
	if n := r.Len(); n != 10_000 {
		t.Fatalf("Len = %d, want 10000", n)
	}
	for i := range 10_000 {
		// One per second: only the last two windows' worth stays.
		r.Seen(fmt.Sprint("x", i), base.Add(time.Duration(i)*time.Second))
	}
	if n := r.Len(); n > 121 {
		t.Fatalf("Len = %d after expiry, want <= 121", n)
	}
}

func TestReplaysConcurrent(t *testing.T) {
	r := NewReplays(time.Minute, 0)
	at := time.Unix(1700000000, 0)
	const sigs, workers = 200, 8
	var fresh [sigs]int32
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range sigs {
				if !r.Seen(fmt.Sprint("sig", i), at) {
					mu.Lock()
					fresh[i]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for i, n := range fresh {
		if n != 1 {
			t.Errorf("signature %d accepted %d times, want once", i, n)
		}
	}
}
