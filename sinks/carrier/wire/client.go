package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultTimeout is a request's whole time when New is given none.
const DefaultTimeout = 5 * time.Second

// MaxResponseBytes bounds what is read of an answer. A 2xx answer longer than this is an
// Ambiguous failure (ErrTooLarge): it may well carry a waybill, but it is not read whole.
const MaxResponseBytes = 1 << 20

// ErrTooLarge is wrapped by an Error whose 2xx answer exceeded MaxResponseBytes.
var ErrTooLarge = errors.New("answer exceeds the size limit")

// Client posts carrier requests. It is safe for concurrent use and keeps no state beyond its
// connection pool.
type Client struct {
	http *http.Client
}

// New returns a client whose requests each take at most timeout, DefaultTimeout when timeout
// is not positive. It does not dial.
func New(timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Hundreds of creates run concurrently against one host; the default of 2 idle
	// connections per host would make most of them dial (and TLS-handshake) anew.
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 256
	return &Client{http: &http.Client{Timeout: timeout, Transport: tr}}
}

// Request is one POST to a carrier.
type Request struct {
	Op          string      // what is attempted; starts every error message
	URL         string      // the endpoint; empty is a Permanent error
	ContentType string      // of Body
	Header      http.Header // extra headers (a signature); may be nil
	Body        []byte
	// ReadOnly says the call changes nothing at the carrier (a trace query): its failures
	// are Transient where a create's would be Ambiguous.
	ReadOnly bool
	// Reason extracts the carrier's explanation from a non-2xx body for Error.Reason; nil
	// quotes the body's start (Snippet).
	Reason func(body []byte) string
}

// Response is a carrier's 2xx answer, its body read whole (at most MaxResponseBytes).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Post sends r and returns the carrier's 2xx answer. It blocks until the answer is read, the
// client's timeout passes or ctx is done. Any other outcome is an *Error classified as the
// package doc says; the caller then reads its protocol's result out of Response.Body and
// classifies that itself.
func (c *Client) Post(ctx context.Context, r Request) (Response, error) {
	fail := func(status int, class Class, err error) (Response, error) {
		if r.ReadOnly && class == Ambiguous {
			class = Transient
		}
		return Response{}, &Error{Op: r.Op, HTTPStatus: status, Err: err, Class: class}
	}
	if r.URL == "" {
		return fail(0, Permanent, errors.New("no url configured"))
	}
	// Whether the request was fully written decides whether a failure is ambiguous: before
	// that the carrier cannot have acted on it (refused, DNS, dial timeout); after it, it may.
	var sent atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			sent.Store(true)
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, r.URL,
		bytes.NewReader(r.Body))
	if err != nil {
		return fail(0, Permanent, err)
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if sent.Load() {
			return fail(0, Ambiguous, err)
		}
		return fail(0, Transient, err)
	}
	defer resp.Body.Close()
	status := resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return fail(status, Ambiguous, fmt.Errorf("read response: %w", err))
	}
	ok := status >= 200 && status <= 299
	if ok && len(body) > MaxResponseBytes {
		return fail(status, Ambiguous, fmt.Errorf("%w (%d bytes)", ErrTooLarge, MaxResponseBytes))
	}
	if ok {
		return Response{Status: status, Header: resp.Header, Body: body}, nil
	}
	e := &Error{Op: r.Op, HTTPStatus: status, retryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	if r.Reason != nil {
		e.Reason = r.Reason(body)
	} else {
		e.Reason = Snippet(body)
	}
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		// Refused before processing: retry later, nothing was created.
		e.Class = Transient
	case status >= 400 && status <= 499:
		e.Class = Permanent
	case r.ReadOnly:
		e.Class = Transient
	default:
		// 5xx (and anything unexpected): the carrier may have failed after creating.
		e.Class = Ambiguous
	}
	return Response{}, e
}

// maxRetryAfter caps a Retry-After in seconds (a day), so that an absurd value cannot overflow.
const maxRetryAfter = 24 * 3600

// retryAfter reads a Retry-After header: delay seconds or an HTTP date. Anything else, or a
// time already past, is 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, maxRetryAfter)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
