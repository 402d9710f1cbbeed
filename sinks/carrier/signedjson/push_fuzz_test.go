package signedjson

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzNow and fuzzTolerance are the verifier's clock and window in the push fuzzer.
var fuzzNow = time.Unix(1700000000, 0)

const fuzzTolerance = 300 * time.Second

// authentic is an oracle written apart from verify: it reports whether header, read as
// "name=value" entries separated by commas, holds exactly one t entry of decimal digits within
// fuzzTolerance of fuzzNow and a v1 entry equal to the lowercase hex HMAC-SHA256 of
// "<t>.<body>" under secret.
func authentic(header string, body, secret []byte) bool {
	var ts []string
	var v1 []string
	for _, part := range strings.Split(strings.TrimSpace(header), ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return false
		}
		switch name {
		case "t":
			ts = append(ts, value)
		case "v1":
			v1 = append(v1, value)
		}
	}
	if len(ts) != 1 || ts[0] == "" || strings.Trim(ts[0], "0123456789") != "" {
		return false
	}
	sec, err := strconv.ParseInt(ts[0], 10, 64)
	if err != nil {
		return false
	}
	if d := fuzzNow.Unix() - sec; d > int64(fuzzTolerance/time.Second) || d < -int64(fuzzTolerance/time.Second) {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts[0] + "."))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	for _, s := range v1 {
		if s == want {
			return true
		}
	}
	return false
}

// FuzzParsePush feeds headers and bodies to ParsePush. With sign false the header is the
// fuzzer's own, so nothing may be accepted (the fuzzer cannot compute an HMAC); with sign true
// the body is signed correctly at fuzzNow+skew and the fuzzed header is appended, so that the
// JSON decoding and the time and header checks are reached. In both cases: no panic, errors of
// the documented kinds only, acceptance only when the oracle finds a matching v1 for a fresh
// t, every accepted event complete, and the same push a second time is a replay.
func FuzzParsePush(f *testing.F) {
	body, err := EncodePush([]Event{
		{ID: "ev1", Waybill: "GJ0000000001", OrderCode: "SO1", Status: StatusPickedUp, Time: fuzzNow},
		{ID: "ev2", Waybill: "GJ0000000002", Status: StatusDelivered, Exception: true, Reason: `A&B "x" <y>`,
			Time: fuzzNow.Add(90 * time.Minute)},
	})
	if err != nil {
		f.Fatal(err)
	}
	secret := []byte(pushSecret)
	f.Add(Sign(secret, fuzzNow, body), body, int64(0), false)
	f.Add("", body, int64(0), true)
	f.Add(",v1=00", body, int64(0), true)
	f.Add(",t=1700000000", body, int64(0), true)
	f.Add("", body, int64(301), true)
	f.Add("", body, int64(-301), true)
	f.Add("", body[:len(body)-3], int64(0), true)
	f.Add("", append(append([]byte(nil), body...), "{}"...), int64(0), true)
	f.Add("", []byte(`{"events":[{"waybill":"W1","status":"delivered","time":"2023-11-14T22:13:20Z","x":1}]}`), int64(0), true)
	f.Add(Sign([]byte("other"), fuzzNow, body), body, int64(0), false)
	f.Add("t=1700000000,v1="+strings.ToUpper(Sign(secret, fuzzNow, body)[len("t=1700000000,v1="):]), body, int64(0), false)
	f.Add("t=-1,v1=x", body, int64(0), false)
	f.Add("t=99999999999999999999,v1=x", body, int64(0), false)
	f.Fuzz(func(t *testing.T, header string, body []byte, skew int64, sign bool) {
		if sign {
			header = Sign(secret, fuzzNow.Add(time.Duration(skew%(1<<33))*time.Second), body) + header
		}
		replays := NewReplays(fuzzTolerance, 16)
		events, err := ParsePush(header, body, secret, fuzzNow, fuzzTolerance, replays)
		if err != nil {
			n := 0
			for _, kind := range []error{ErrNoSignature, ErrBadSignature, ErrStale, ErrReplay, ErrMalformed} {
				if errors.Is(err, kind) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error of %d documented kinds, want 1: %v", n, err)
			}
			if strings.Contains(err.Error(), pushSecret) {
				t.Fatalf("error reveals the secret: %v", err)
			}
			return
		}
		if !authentic(header, body, secret) {
			t.Fatalf("accepted a push the oracle finds forged or stale: header %q body %q", header, body)
		}
		if len(events) == 0 {
			t.Fatal("accepted a push without events")
		}
		for i, e := range events {
			if strings.TrimSpace(e.Waybill) == "" || !IsStatus(e.Status) || e.Time.IsZero() {
				t.Fatalf("accepted incomplete event %d: %+v", i, e)
			}
		}
		if _, err := ParsePush(header, body, secret, fuzzNow, fuzzTolerance, replays); !errors.Is(err, ErrReplay) {
			t.Fatalf("the same push again: err = %v, want ErrReplay", err)
		}
	})
}
