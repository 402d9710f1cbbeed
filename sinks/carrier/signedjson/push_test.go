package signedjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const pushSecret = "whsec_push_test"

func TestParsePush(t *testing.T) {
	now := time.Unix(1700000000, 0)
	secret := []byte(pushSecret)
	const good = `{"events":[` +
		`{"id":"ev1","waybill":"GJ0000000001","order_code":"SO1","status":"picked_up","exception":false,"reason":"","time":"2023-11-14T22:13:20Z"},` +
		`{"id":"ev2","waybill":"GJ0000000002","status":"delivered","exception":true,"reason":"signed after a delay","time":"2023-11-15T06:13:20.5+08:00"}]}`
	tests := []struct {
		name   string
		body   string
		header string // "" = signed correctly at now
		now    time.Time
		want   error // nil: parses
		events int
	}{
		{name: "good", body: good, events: 2},
		{name: "only required fields", body: `{"events":[{"waybill":"W1","status":"cancelled","time":"2023-11-14T22:13:20Z"}]}`, events: 1},
		{name: "every canonical status", body: `{"events":[` + strings.Join(func() []string {
			var evs []string
			for _, s := range []string{"created", "picked_up", "in_transit", "out_for_delivery", "ready_for_pickup",
				"delivered", "returning", "returned", "cancelled"} {
				evs = append(evs, `{"waybill":"W1","status":"`+s+`","time":"2023-11-14T22:13:20Z"}`)
			}
			return evs
		}(), ",") + `]}`, events: 9},
		{name: "unknown field", body: `{"events":[{"waybill":"W1","status":"delivered","time":"2023-11-14T22:13:20Z","location":"Beijing"}]}`, want: ErrMalformed},
		{name: "unknown top-level field", body: `{"events":[{"waybill":"W1","status":"delivered","time":"2023-11-14T22:13:20Z"}],"count":1}`, want: ErrMalformed},
		{name: "bad status", body: `{"events":[{"waybill":"W1","status":"lost_in_space","time":"2023-11-14T22:13:20Z"}]}`, want: ErrMalformed},
		{name: "exception is a flag, not a status", body: `{"events":[{"waybill":"W1","status":"exception","time":"2023-11-14T22:13:20Z"}]}`, want: ErrMalformed},
		{name: "status in upper case", body: `{"events":[{"waybill":"W1","status":"DELIVERED","time":"2023-11-14T22:13:20Z"}]}`, want: ErrMalformed},
		{name: "truncated JSON", body: good[:len(good)-10], want: ErrMalformed},
		{name: "trailing data", body: good + `{}`, want: ErrMalformed},
		{name: "empty body", body: ``, want: ErrMalformed},
		{name: "not an object", body: `[1,2]`, want: ErrMalformed},
		{name: "no events", body: `{"events":[]}`, want: ErrMalformed},
		{name: "events null", body: `{"events":null}`, want: ErrMalformed},
		{name: "no waybill", body: `{"events":[{"status":"delivered","time":"2023-11-14T22:13:20Z"}]}`, want: ErrMalformed},
		{name: "no status", body: `{"events":[{"waybill":"W1","time":"2023-11-14T22:13:20Z"}]}`, want: ErrMalformed},
		{name: "no time", body: `{"events":[{"waybill":"W1","status":"delivered"}]}`, want: ErrMalformed},
		{name: "time not RFC 3339", body: `{"events":[{"waybill":"W1","status":"delivered","time":"2023-11-14 22:13:20"}]}`, want: ErrMalformed},
		{name: "exception not a bool", body: `{"events":[{"waybill":"W1","status":"delivered","exception":"yes","time":"2023-11-14T22:13:20Z"}]}`, want: ErrMalformed},
		{name: "old timestamp", body: good, now: now.Add(10 * time.Minute), want: ErrStale},
		{name: "future timestamp", body: good, now: now.Add(-10 * time.Minute), want: ErrStale},
		{name: "unsigned", body: good, header: "-", want: ErrNoSignature},
		{name: "wrong secret", body: good, header: Sign([]byte("other"), now, []byte(good)), want: ErrBadSignature},
		{name: "signed over other bytes", body: good, header: Sign(secret, now, []byte(good+" ")), want: ErrBadSignature},
		{name: "too large", body: `{"events":[` + strings.Repeat(" ", MaxBodyBytes) + `]}`, want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := tt.header
			switch header {
			case "":
				header = Sign(secret, now, []byte(tt.body))
			case "-":
				header = ""
			}
			verifyAt := now
			if !tt.now.IsZero() {
				verifyAt = tt.now
			}
			events, err := ParsePush(header, []byte(tt.body), secret, verifyAt, 0, NewReplays(0, 0))
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != tt.events {
				t.Fatalf("%d events, want %d", len(events), tt.events)
			}
		})
	}
}

func TestParsePushFields(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{"events":[{"id":"ev2","waybill":"GJ0000000002","order_code":"SO2","status":"delivered",` +
		`"exception":true,"reason":"A&B","time":"2023-11-15T06:13:20.5+08:00"}]}`)
	events, err := ParsePush(Sign([]byte(pushSecret), now, body), body, []byte(pushSecret), now, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Event{ID: "ev2", Waybill: "GJ0000000002", OrderCode: "SO2", Status: StatusDelivered, Exception: true,
		Reason: "A&B", Time: time.Date(2023, 11, 14, 22, 13, 20, 500_000_000, time.UTC)}
	got := events[0]
	if !got.Time.Equal(want.Time) {
		t.Errorf("time = %v, want %v", got.Time, want.Time)
	}
	got.Time = want.Time
	if got != want {
		t.Errorf("event = %+v, want %+v", got, want)
	}
}

func TestParsePushReplay(t *testing.T) {
	now := time.Unix(1700000000, 0)
	secret := []byte(pushSecret)
	body, err := EncodePush([]Event{{ID: "ev1", Waybill: "W1", Status: StatusInTransit, Time: now}})
	if err != nil {
		t.Fatal(err)
	}
	header := Sign(secret, now, body)
	replays := NewReplays(DefaultTolerance, 100)
	tests := []struct {
		name   string
		header string
		now    time.Time
		want   error
	}{
		{"first delivery", header, now, nil},
		{"same bytes again", header, now.Add(time.Minute), ErrReplay},
		{"same signature, entries reordered", "v1=" + header[strings.Index(header, "v1=")+3:] + ",t=1700000000", now.Add(2 * time.Minute), ErrReplay},
		{"same signature plus a bogus v1", header + ",v1=00", now.Add(2 * time.Minute), ErrReplay},
		{"re-signed a second later", Sign(secret, now.Add(time.Second), body), now.Add(2 * time.Minute), nil},
		{"after the tolerance: stale, not replay", header, now.Add(6 * time.Minute), ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePush(tt.header, body, secret, tt.now, 0, replays)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestParsePushMalformedNotRemembered: a malformed push is reported as malformed every time,
// not as a replay the second time.
func TestParsePushMalformedNotRemembered(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{"events":[{"waybill":"W1","status":"teleported","time":"2023-11-14T22:13:20Z"}]}`)
	header := Sign([]byte(pushSecret), now, body)
	replays := NewReplays(0, 0)
	for i := range 2 {
		if _, err := ParsePush(header, body, []byte(pushSecret), now, 0, replays); !errors.Is(err, ErrMalformed) {
			t.Fatalf("attempt %d: err = %v, want ErrMalformed", i, err)
		}
	}
}

func TestEncodePushRoundTrip(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	in := []Event{
		{ID: "e1", Waybill: "GJ0000000001", OrderCode: "SO1", Status: StatusOutForDelivery, Time: now},
		{ID: "e2", Waybill: "GJ0000000001", OrderCode: "SO1", Status: StatusDelivered, Exception: true, Reason: "<&>", Time: now.Add(time.Hour)},
	}
	body, err := EncodePush(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), `\u0026`) {
		t.Errorf("HTML escaping in %s", body)
	}
	out, err := ParsePush(Sign([]byte(pushSecret), now, body), body, []byte(pushSecret), now, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if out[i].Time.Equal(in[i].Time) {
			out[i].Time = in[i].Time
		}
		if out[i] != in[i] {
			t.Errorf("event %d = %+v, want %+v", i, out[i], in[i])
		}
	}
}

func TestPushReply(t *testing.T) {
	tests := []struct {
		ok     bool
		reason string
		want   string
	}{
		{true, "", `{"ok":true}`},
		{true, "ignored", `{"ok":true}`},
		{false, "unknown waybill GJ1 & co", `{"ok":false,"error":"unknown waybill GJ1 & co"}`},
		{false, `quote " here`, `{"ok":false,"error":"quote \" here"}`},
		{false, "", `{"ok":false,"error":""}`},
	}
	for _, tt := range tests {
		got := PushReply(tt.ok, tt.reason)
		if string(got) != tt.want {
			t.Errorf("PushReply(%v, %q) = %s, want %s", tt.ok, tt.reason, got, tt.want)
		}
		if !json.Valid(got) {
			t.Errorf("PushReply(%v, %q) is not JSON", tt.ok, tt.reason)
		}
	}
}

func TestIsStatus(t *testing.T) {
	for s, want := range map[string]bool{"created": true, "cancelled": true, "ready_for_pickup": true,
		"exception": false, "": false, "Delivered": false, "canceled": false} {
		if got := IsStatus(s); got != want {
			t.Errorf("IsStatus(%q) = %v, want %v", s, got, want)
		}
	}
}
