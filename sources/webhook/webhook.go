package webhook

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Errors a Decoder returns; anything else counts as malformed too.
var (
	// ErrBadSignature: the push is not signed with the carrier's key (or the signature is stale
	// or replayed).
	ErrBadSignature = errors.New("bad signature")
	// ErrMalformed: the push is not what the carrier's format says.
	ErrMalformed = errors.New("malformed push")
)

// Outcome of one push or one update in it; the label of the push counter.
type Outcome string

// Outcomes.
const (
	OK             Outcome = "ok"
	BadSignature   Outcome = "bad_signature"
	Malformed      Outcome = "malformed"
	Duplicate      Outcome = "duplicate"
	Stale          Outcome = "stale"
	UnknownWaybill Outcome = "unknown_waybill"
	Forbidden      Outcome = "forbidden"
	Failed         Outcome = "failed" // could not be applied now (state or shop unreachable)
)

// Outcomes lists every Outcome, for counters that start at zero.
var Outcomes = []Outcome{OK, BadSignature, Malformed, Duplicate, Stale, UnknownWaybill, Forbidden, Failed}

// Update is one waybill's news in a push, already mapped to the canonical status model.
type Update struct {
	Waybill   string
	OrderCode string
	// ShipperCode names the courier of the waybill when the push says (Kdniao: one account
	// pushes every courier's waybills to one URL); "" when the format names none.
	ShipperCode string
	Status      string // canonical status; "" for a pure exception report
	Exception   bool
	Reason      string
	Time        time.Time // the newest event's time
	Code        string    // the carrier's raw code, for logs
	Known       bool      // false when the carrier's code is not in the mapping table
}

// Decoder is one carrier type's push format. Decode verifies the signature over the raw body
// before parsing; errors wrap ErrBadSignature or ErrMalformed. Reply writes the answer the
// carrier expects; ok=false asks the carrier to send the push again later. Both are called
// from many goroutines at once.
type Decoder interface {
	Decode(r *http.Request, body []byte) ([]Update, error)
	Reply(w http.ResponseWriter, ok bool, reason string)
}

// Applier applies one update. It returns Duplicate, Stale, UnknownWaybill or OK, or an error
// when the update could not be applied now (the carrier must retry). Safe for concurrent use.
type Applier interface {
	Apply(ctx context.Context, carrier string, u Update) (Outcome, error)
}

// Config of the receiver.
type Config struct {
	MaxBody int64          // bytes; larger pushes are malformed
	Allow   []netip.Prefix // empty: any address
	// TrustedProxies are the reverse proxies in front of the listener: only when the peer is one
	// of them is the client address read from X-Forwarded-For (its right-most entry that is not
	// a trusted proxy) for Allow. Empty: the peer is the client.
	TrustedProxies []netip.Prefix
	// Deadline to answer within (carriers count a slow answer as a failed push); default 4s.
	Deadline time.Duration
}

// Decoders finds the push format of the carrier a push URL names; ok is false for a carrier
// that is not configured (or does not push). It is asked on every push, so what it answers may
// change while the handler runs (a configuration reload). Safe for concurrent use.
type Decoders func(carrier string) (d Decoder, ok bool)

// Fixed is Decoders over a map that never changes.
func Fixed(m map[string]Decoder) Decoders {
	return func(carrier string) (Decoder, bool) { d, ok := m[carrier]; return d, ok }
}

// Handler serves POST /push/{carrier}.
type Handler struct {
	cfg      Config
	decoders Decoders
	apply    Applier
	count    func(carrier string, o Outcome)
	log      *slog.Logger
}

// New returns the receiver. count is called once per rejected push and once per update.
func New(cfg Config, decoders Decoders, apply Applier, count func(carrier string, o Outcome), log *slog.Logger) *Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = 4 * time.Second
	}
	if count == nil {
		count = func(string, Outcome) {}
	}
	return &Handler{cfg: cfg, decoders: decoders, apply: apply, count: count, log: log}
}

// Register adds the route to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /push/{carrier}", h)
}

// ServeHTTP handles one push.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	carrier := r.PathValue("carrier")
	dec, ok := h.decoders(carrier)
	if !ok {
		http.Error(w, "unknown carrier", http.StatusNotFound)
		return
	}
	if !h.allowed(r) {
		h.count(carrier, Forbidden)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		h.count(carrier, Malformed)
		h.log.Warn("push rejected", "carrier", carrier, "outcome", Malformed, "err", err)
		dec.Reply(w, false, "request too large or unreadable")
		return
	}
	updates, err := dec.Decode(r, body)
	if err != nil {
		o := Malformed
		if errors.Is(err, ErrBadSignature) {
			o = BadSignature
		}
		h.count(carrier, o)
		h.log.Warn("push rejected", "carrier", carrier, "outcome", o, "remote", r.RemoteAddr, "err", err)
		dec.Reply(w, false, string(o))
		return
	}
	// Not the client's context: a carrier hanging up must not cut a write-back in the middle.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.cfg.Deadline)
	defer cancel()
	success, reason := true, ""
	for _, u := range updates {
		o, err := h.apply.Apply(ctx, carrier, u)
		if err != nil {
			o = Failed
			h.log.Warn("push update not applied; the carrier will retry", "carrier", carrier, "waybill", u.Waybill, "err", err)
		}
		h.count(carrier, o)
		if o == UnknownWaybill || o == Failed {
			// The carrier sends the whole push again; what was applied comes back as duplicates.
			success, reason = false, string(o)+" "+u.Waybill
		}
	}
	dec.Reply(w, success, reason)
}

func (h *Handler) allowed(r *http.Request) bool {
	if len(h.cfg.Allow) == 0 {
		return true
	}
	addr, ok := ClientAddr(r, h.cfg.TrustedProxies)
	return ok && contains(h.cfg.Allow, addr)
}

// ClientAddr is the address a request comes from. The peer is the client unless it is one of
// the trusted proxies; then X-Forwarded-For is read from the right (each proxy appends the
// address it was reached from), skipping trusted proxies, and its first untrusted entry is the
// client. Entries left of that one are whatever the client sent, so they are never believed:
// a spoofed header from an untrusted peer changes nothing. ok is false when no address can be
// made out.
func ClientAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(strings.TrimSpace(host))
	if err != nil {
		return netip.Addr{}, false
	}
	addr := peer.Unmap()
	if !contains(trusted, addr) {
		return addr, true
	}
	xff := r.Header.Values("X-Forwarded-For")
	if len(xff) == 0 {
		return addr, true // the proxy's own request
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}, false // garbled: believe nothing further left
		}
		addr = hop.Unmap()
		if !contains(trusted, addr) {
			return addr, true
		}
	}
	return addr, true // every hop a trusted proxy: the left-most of them
}

func contains(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseAllow turns addresses and CIDRs into prefixes.
func ParseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range list {
		if p, err := netip.ParsePrefix(a); err == nil {
			out = append(out, p.Masked())
			continue
		}
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return out, nil
}
