package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/signedjson"

	"github.com/shipsync/shipsync/sinks/carrier/simkit"
)

const (
	waybillPrefix = "GJ"
	waybillDigits = 10
	// pickupDelay is when the simulated courier promises to come, counted from creation.
	pickupDelay = 2 * time.Hour
	pushTimeout = 10 * time.Second
)

// Faults are the knobs that can change while the simulator runs. Rates are fractions of
// creates, 0 to 1.
type Faults struct {
	// Latency is added before answering a create, after the waybill is committed: a client
	// that times out meanwhile has a waybill it does not know about.
	Latency time.Duration
	// ErrorRate is the fraction of creates answered HTTP 500 without creating anything.
	ErrorRate float64
	// UnsignedRate is the fraction of successful creates answered without a signature.
	UnsignedRate float64
}

// Stats counts what the simulator did since it started.
type Stats struct {
	Requests int64 `json:"requests"` // every create request
	Creates  int64 `json:"creates"`  // waybills allocated
	Repeats  int64 `json:"repeats"`  // creates answered with an existing waybill
	Rejects  int64 `json:"rejects"`  // missing, bad or stale signature (401)
	Invalid  int64 `json:"invalid"`  // unreadable or incomplete requests (400, 413)
	Errors   int64 `json:"errors"`   // HTTP 500 faults
	Pushes   int64 `json:"pushes"`   // pushes sent by Push and PushRaw
}

// Server is the simulator. It implements http.Handler and is safe for concurrent use.
type Server struct {
	secret []byte
	mux    *http.ServeMux
	client *http.Client

	faults atomic.Pointer[Faults]

	dice *simkit.Dice

	mu      sync.Mutex
	seq     int64
	byOrder map[string]record

	requests, creates, repeats, rejects, invalid, errors, pushes atomic.Int64
}

type record struct {
	waybill string
	created time.Time
}

// New returns a simulator that shares secret with its clients, without faults. It answers
// creates on POST to any path, its counts on GET /stats and GET /healthz.
func New(secret string) *Server {
	s := &Server{
		secret:  []byte(secret),
		mux:     http.NewServeMux(),
		client:  &http.Client{Timeout: pushTimeout},
		dice:    simkit.NewDice(1, 0x4753_4a53_4f4e),
		byOrder: make(map[string]record),
	}
	s.SetFaults(Faults{})
	s.mux.HandleFunc("POST /", s.handleCreate)
	s.mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", signedjson.ContentType)
		_ = json.NewEncoder(w).Encode(s.Stats()) // the client is gone if this fails
	})
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain;charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetFaults replaces the fault knobs; requests already running keep the ones they started with.
func (s *Server) SetFaults(f Faults) { s.faults.Store(&f) }

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	return Stats{
		Requests: s.requests.Load(),
		Creates:  s.creates.Load(),
		Repeats:  s.repeats.Load(),
		Rejects:  s.rejects.Load(),
		Invalid:  s.invalid.Load(),
		Errors:   s.errors.Load(),
		Pushes:   s.pushes.Load(),
	}
}

// Waybill returns the waybill allocated to orderCode, if any.
func (s *Server) Waybill(orderCode string) (string, bool) {
	s.mu.Lock()
	rec, ok := s.byOrder[orderCode]
	s.mu.Unlock()
	return rec.waybill, ok
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, signedjson.MaxBodyBytes))
	if err != nil {
		s.invalid.Add(1)
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			s.fail(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		s.fail(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	// Verified over the body exactly as received, never a re-marshalled copy.
	if _, err := signedjson.Verify(r.Header.Get(signedjson.SignatureHeader), body, s.secret, time.Now(), 0); err != nil {
		s.rejects.Add(1)
		s.fail(w, http.StatusUnauthorized, err.Error())
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req signedjson.CreateRequest
	if err := dec.Decode(&req); err != nil {
		s.invalid.Add(1)
		s.fail(w, http.StatusBadRequest, "body is not a create request: "+err.Error())
		return
	}
	if field := missingField(req); field != "" {
		s.invalid.Add(1)
		s.fail(w, http.StatusBadRequest, "missing "+field)
		return
	}
	f := s.faults.Load()
	ctx := r.Context()
	if s.dice.Roll(f.ErrorRate) {
		s.errors.Add(1)
		simkit.Sleep(ctx, f.Latency)
		s.fail(w, http.StatusInternalServerError, "simulated carrier error")
		return
	}
	rec, repeat := s.commit(req.OrderCode)
	if repeat {
		s.repeats.Add(1)
	} else {
		s.creates.Add(1)
	}
	simkit.Sleep(ctx, f.Latency)
	res := signedjson.CreateResponse{
		OrderCode:  req.OrderCode,
		Waybill:    rec.waybill,
		PickupTime: rec.created.Add(pickupDelay).UTC().Format(time.RFC3339),
		Repeat:     repeat,
	}
	s.answer(w, http.StatusOK, res, !s.dice.Roll(f.UnsignedRate))
}

// commit returns the waybill of orderCode, allocating one the first time.
func (s *Server) commit(orderCode string) (rec record, repeat bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.byOrder[orderCode]; ok {
		return rec, true
	}
	s.seq++
	rec = record{waybill: fmt.Sprintf("%s%0*d", waybillPrefix, waybillDigits, s.seq), created: time.Now()}
	s.byOrder[orderCode] = rec
	return rec, false
}

// missingField names the first required field req lacks, or returns "".
func missingField(req signedjson.CreateRequest) string {
	switch {
	case req.OrderCode == "":
		return "order_code"
	case req.ShipperCode == "":
		return "shipper_code"
	case req.Receiver.Name == "":
		return "receiver.name"
	case req.Receiver.Mobile == "" && req.Receiver.Phone == "":
		return "receiver.mobile or receiver.phone"
	case req.Receiver.Province == "":
		return "receiver.province"
	case req.Receiver.City == "":
		return "receiver.city"
	case req.Receiver.Address == "":
		return "receiver.address"
	}
	return ""
}

// Push signs events as the carrier would and POSTs them to url; it returns the receiver's
// HTTP status. err reports only a failure to deliver (no status).
func (s *Server) Push(ctx context.Context, url string, events []signedjson.Event) (int, error) {
	body, err := signedjson.EncodePush(events)
	if err != nil {
		return 0, fmt.Errorf("push: %w", err)
	}
	return s.PushRaw(ctx, url, signedjson.Sign(s.secret, time.Now(), body), body)
}

// PushRaw POSTs body with header as the SignatureHeader value (none when header is ""), for
// forged, stale or replayed pushes. It returns the receiver's HTTP status.
func (s *Server) PushRaw(ctx context.Context, url, header string, body []byte) (int, error) {
	s.pushes.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("push: %w", err)
	}
	req.Header.Set("Content-Type", signedjson.ContentType)
	if header != "" {
		req.Header.Set(signedjson.SignatureHeader, header)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("push: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, signedjson.MaxBodyBytes)) // reuse the connection
	return resp.StatusCode, nil
}

func (s *Server) fail(w http.ResponseWriter, status int, reason string) {
	s.answer(w, status, signedjson.ErrorResponse{Error: reason}, true)
}

// answer writes v as JSON, signed unless signed is false (a fault).
func (s *Server) answer(w http.ResponseWriter, status int, v any, signed bool) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", signedjson.ContentType)
	if signed {
		w.Header().Set(signedjson.SignatureHeader, signedjson.Sign(s.secret, time.Now(), body))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client is gone if this fails; nothing to do
}
