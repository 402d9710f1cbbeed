package signedjson

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries the signature of every request and of every create response.
const SignatureHeader = "Shipsync-Signature"

// DefaultTolerance is how far a signed time may lie from the verifier's clock, in either
// direction, when no tolerance is configured.
const DefaultTolerance = 300 * time.Second

// Errors of Verify and ParsePush, checked with errors.Is. The messages of the errors returned
// wrap them with details; they never contain the secret or the expected signature.
var (
	// ErrNoSignature: the header is missing or blank, or it has no v1 entry.
	ErrNoSignature = errors.New("no signature")
	// ErrBadSignature: no v1 entry matches, the header cannot be parsed, or no secret is
	// configured (an empty HMAC key would let anyone sign).
	ErrBadSignature = errors.New("bad signature")
	// ErrStale: the signature matches but its time is further than the tolerance from now.
	ErrStale = errors.New("stale signature")
	// ErrReplay: the signature matches and is fresh, but it has been accepted before.
	ErrReplay = errors.New("replayed signature")
	// ErrMalformed: the signed body is not a valid message.
	ErrMalformed = errors.New("malformed")
)

// Sign returns the SignatureHeader value for body sent at t:
// "t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(secret, "<t>." + body)>". body must be the
// bytes exactly as sent.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

// mac is the lowercase hex HMAC-SHA256 of ts + "." + body; ts is the timestamp text exactly
// as it appears in the header.
func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks header, a SignatureHeader value, against body exactly as received and returns
// the signed time. The header holds one t entry and one or more v1 entries (several during a
// key rotation): any v1 equal to the expected lowercase hex HMAC verifies; the comparison takes
// constant time and upper-case hex does not match. Entries with other names are ignored.
//
// The signature is checked before the time, so that ErrStale only ever describes an authentic
// message. A signed time more than tolerance before or after now is ErrStale; tolerance <= 0
// means DefaultTolerance. Errors wrap ErrNoSignature, ErrBadSignature or ErrStale; the signed
// time is returned whenever it could be read, also with an error.
//
// Verify does not detect replays: see Replays.
func Verify(header string, body, secret []byte, now time.Time, tolerance time.Duration) (time.Time, error) {
	t, _, err := verify(header, body, secret, now, tolerance)
	return t, err
}

// verify is Verify that also returns the matching signature, the key for Replays.
func verify(header string, body, secret []byte, now time.Time, tolerance time.Duration) (time.Time, string, error) {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return time.Time{}, "", fmt.Errorf("%w: no %s header", ErrNoSignature, SignatureHeader)
	}
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return time.Time{}, "", fmt.Errorf("%w: unreadable header entry", ErrBadSignature)
		}
		switch k {
		case "t":
			if ts != "" {
				return time.Time{}, "", fmt.Errorf("%w: more than one t entry", ErrBadSignature)
			}
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, ok := parseUnix(ts)
	if !ok {
		return time.Time{}, "", fmt.Errorf("%w: missing or unreadable t entry", ErrBadSignature)
	}
	t := time.Unix(sec, 0)
	if len(sigs) == 0 {
		return t, "", fmt.Errorf("%w: no v1 entry", ErrNoSignature)
	}
	if len(secret) == 0 {
		return t, "", fmt.Errorf("%w: no secret configured", ErrBadSignature)
	}
	want := []byte(mac(secret, ts, body))
	matched := false
	for _, s := range sigs {
		// Every entry is compared, so the time taken does not say which one matched.
		if hmac.Equal(want, []byte(s)) {
			matched = true
		}
	}
	if !matched {
		return t, "", fmt.Errorf("%w: no v1 entry matches", ErrBadSignature)
	}
	// Sub saturates, and negating its minimum overflows: compare age with -tolerance instead.
	switch age := now.Sub(t); {
	case age > tolerance:
		return t, "", fmt.Errorf("%w: signed %v ago, tolerance %v", ErrStale, age.Truncate(time.Second), tolerance)
	case age < -tolerance:
		return t, "", fmt.Errorf("%w: signed %v in the future, tolerance %v", ErrStale, t.Sub(now).Truncate(time.Second), tolerance)
	}
	return t, string(want), nil
}

// parseUnix reads a timestamp of decimal digits only (no sign, no spaces).
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
