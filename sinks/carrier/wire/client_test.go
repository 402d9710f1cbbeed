package wire

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func answer(status int, header http.Header, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func hang(w http.ResponseWriter, r *http.Request) {
	// Read the body: only then does the server notice the client hanging up.
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func reset(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_ = conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
		_ = conn.Close()
	}
}

// closedAddr is an address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestPostClassification is the table of the package doc: every way a call can fail, its
// class, for a create and for a read-only query.
func TestPostClassification(t *testing.T) {
	big := strings.Repeat("x", MaxResponseBytes+1)
	tests := []struct {
		name       string
		url        func(t *testing.T) string
		ctx        func() context.Context
		timeout    time.Duration
		create     Class // for a create
		query      Class // for a ReadOnly request
		httpStatus int
		retryAfter time.Duration
		is         error
	}{
		{name: "connection refused", url: func(t *testing.T) string { return "http://" + closedAddr(t) + "/x" },
			create: Transient, query: Transient},
		{name: "DNS failure", url: func(*testing.T) string { return "http://no-such-host.invalid/x" },
			create: Transient, query: Transient},
		{name: "ctx done before sending", url: func(t *testing.T) string { return serve(t, answer(200, nil, "ok")) },
			ctx:    func() context.Context { ctx, cancel := context.WithCancel(context.Background()); cancel(); return ctx },
			create: Transient, query: Transient, is: context.Canceled},
		{name: "no url", url: func(*testing.T) string { return "" }, create: Permanent, query: Permanent},
		{name: "unparsable url", url: func(*testing.T) string { return "http://[::1" }, create: Permanent, query: Permanent},
		{name: "timeout after sending", url: func(t *testing.T) string { return serve(t, hang) },
			timeout: 200 * time.Millisecond, create: Ambiguous, query: Transient},
		{name: "reset after sending", url: func(t *testing.T) string { return serve(t, reset(t)) },
			create: Ambiguous, query: Transient},
		{name: "body cut short", url: func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "100")
				_, _ = io.WriteString(w, "<Response>")
			})
		}, create: Ambiguous, query: Transient, httpStatus: 200},
		{name: "oversized 2xx", url: func(t *testing.T) string { return serve(t, answer(200, nil, big)) },
			create: Ambiguous, query: Transient, httpStatus: 200, is: ErrTooLarge},
		{name: "500", url: func(t *testing.T) string { return serve(t, answer(500, nil, "boom")) },
			create: Ambiguous, query: Transient, httpStatus: 500},
		{name: "502 from a proxy", url: func(t *testing.T) string { return serve(t, answer(502, nil, "bad gateway")) },
			create: Ambiguous, query: Transient, httpStatus: 502},
		{name: "503 with Retry-After", url: func(t *testing.T) string {
			return serve(t, answer(503, http.Header{"Retry-After": {"120"}}, "busy"))
		}, create: Ambiguous, query: Transient, httpStatus: 503, retryAfter: 2 * time.Minute},
		{name: "429 with Retry-After", url: func(t *testing.T) string {
			return serve(t, answer(429, http.Header{"Retry-After": {"7"}}, "slow down"))
		}, create: Transient, query: Transient, httpStatus: 429, retryAfter: 7 * time.Second},
		{name: "408", url: func(t *testing.T) string { return serve(t, answer(408, nil, "timeout")) },
			create: Transient, query: Transient, httpStatus: 408},
		{name: "400", url: func(t *testing.T) string { return serve(t, answer(400, nil, "bad")) },
			create: Permanent, query: Permanent, httpStatus: 400},
		{name: "401", url: func(t *testing.T) string { return serve(t, answer(401, nil, "who")) },
			create: Permanent, query: Permanent, httpStatus: 401},
		{name: "oversized 404", url: func(t *testing.T) string { return serve(t, answer(404, nil, big)) },
			create: Permanent, query: Permanent, httpStatus: 404},
	}
	for _, tt := range tests {
		for _, readOnly := range []bool{false, true} {
			name := tt.name + "/create"
			want := tt.create
			if readOnly {
				name, want = tt.name+"/query", tt.query
			}
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				if tt.ctx != nil {
					ctx = tt.ctx()
				}
				timeout := tt.timeout
				if timeout == 0 {
					timeout = 2 * time.Second
				}
				_, err := New(timeout).Post(ctx, Request{Op: "create waybill SO1", URL: tt.url(t),
					ContentType: "text/plain", Body: []byte("hello"), ReadOnly: readOnly})
				e, ok := errors.AsType[*Error](err)
				if !ok {
					t.Fatalf("err = %v (%T), want *Error", err, err)
				}
				if e.Class != want || e.Permanent() != (want == Permanent) || e.MaybeCreated() != (want == Ambiguous) {
					t.Errorf("class %v (permanent %v, maybe created %v), want %v: %v", e.Class, e.Permanent(), e.MaybeCreated(), want, err)
				}
				if e.HTTPStatus != tt.httpStatus || e.RetryAfter() != tt.retryAfter {
					t.Errorf("HTTPStatus, RetryAfter = %d, %v; want %d, %v", e.HTTPStatus, e.RetryAfter(), tt.httpStatus, tt.retryAfter)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("err = %v, want %v in the chain", err, tt.is)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "create waybill SO1") || len(msg) > 1000 || !utf8.ValidString(msg) {
					t.Errorf("message %q", Clip(msg, 300))
				}
			})
		}
	}
}

// TestPostSendsAndReturns: the body, content type and extra headers arrive as given, and a
// 2xx comes back with its status, headers and body.
func TestPostSendsAndReturns(t *testing.T) {
	var got struct {
		method, ct, sig, body string
	}
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.ct, got.sig, got.body = r.Method, r.Header.Get("Content-Type"), r.Header.Get("X-Sig"), string(b)
		w.Header().Set("X-Answer-Sig", "s1")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, "created")
	})
	resp, err := New(0).Post(context.Background(), Request{Op: "op", URL: url, ContentType: "application/json",
		Header: http.Header{"X-Sig": {"v1"}}, Body: []byte(`{"a":"&"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got.method != "POST" || got.ct != "application/json" || got.sig != "v1" || got.body != `{"a":"&"}` {
		t.Errorf("carrier got %+v", got)
	}
	if resp.Status != 201 || resp.Header.Get("X-Answer-Sig") != "s1" || string(resp.Body) != "created" {
		t.Errorf("response = %d %v %q", resp.Status, resp.Header, resp.Body)
	}
}

// TestPostReason: a protocol's Reason hook reads its own error bodies; without one the body's
// start is quoted.
func TestPostReason(t *testing.T) {
	url := serve(t, answer(400, nil, `{"error":"receiver address unknown"}`))
	c := New(time.Second)
	_, err := c.Post(context.Background(), Request{Op: "op", URL: url,
		Reason: func(b []byte) string { return strings.TrimSuffix(strings.TrimPrefix(string(b), `{"error":"`), `"}`) }})
	if e, _ := errors.AsType[*Error](err); e == nil || e.Reason != "receiver address unknown" {
		t.Errorf("err = %v", err)
	}
	_, err = c.Post(context.Background(), Request{Op: "op", URL: url})
	if e, _ := errors.AsType[*Error](err); e == nil || e.Reason != `{"error":"receiver address unknown"}` {
		t.Errorf("err = %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-5", 0}, {"soon", 0}, {"30", 30 * time.Second}, {" 30 ", 30 * time.Second},
		{"99999999999", 24 * time.Hour},
		{"Wed, 01 May 2024 10:01:30 GMT", 90 * time.Second},
		{"Wed, 01 May 2024 09:00:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Op: "create waybill A1", HTTPStatus: 200, ResultCode: 101, Reason: "缺少参数"},
			"create waybill A1: result code 101: 缺少参数"},
		{&Error{Op: "create waybill A1", HTTPStatus: 503, Reason: "busy"}, "create waybill A1: http status 503: busy"},
		{&Error{Op: "create waybill A1", Err: context.DeadlineExceeded}, "create waybill A1: context deadline exceeded"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestSnippet(t *testing.T) {
	long := strings.Repeat("顺", 100) // 300 bytes: cut inside a rune
	s := Snippet([]byte("  " + long + "  "))
	if !utf8.ValidString(s) || len(s) > maxSnippet+len("…") || !strings.HasSuffix(s, "…") {
		t.Errorf("Snippet = %q (%d bytes)", s, len(s))
	}
	if got := Snippet([]byte(" short\n")); got != "short" {
		t.Errorf("Snippet = %q", got)
	}
}
