package statuspage

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"time"
)

// assets is the page, its script and its style. A package-level variable because go:embed
// requires one; it is read once, in New.
//
//go:embed page.html static/app.js static/app.css
var assets embed.FS

// MaxLatest is the number of latest orders /api/status returns at most.
const MaxLatest = 20

// snapshotTimeout bounds one call of the producer, so a stuck Redis cannot pile up requests
// from a page that polls every 2 s.
const snapshotTimeout = 5 * time.Second

// csp lets the page load only its own script and style and fetch only its own origin: no inline
// code, no external URL, no framing, no forms.
const csp = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Snapshot is what the page shows; the daemon fills it (sync/pipeline) on every /api/status
// request.
type Snapshot struct {
	Now                  time.Time `json:"now"`
	Ready                bool      `json:"ready"`
	BinlogLagSeconds     float64   `json:"binlog_lag_seconds"`
	Checkpoint           string    `json:"checkpoint"` // "mysql-bin.000002:1234"
	CheckpointAgeSeconds float64   `json:"checkpoint_age_seconds"`
	OrdersPerMinute      float64   `json:"orders_per_minute"` // written back in the last minute
	RetryQueue           int64     `json:"retry_queue"`
	DeadLetter           int64     `json:"dead_letter"`
	StaleParcels         int64     `json:"stale_parcels"` // flagged no_pickup + stuck orders
	// CancelAfterPickup counts cancelled orders whose parcel was already picked up (flagged
	// cancel_after_pickup, for a person to intercept), since the daemon started.
	CancelAfterPickup int64          `json:"cancel_after_pickup"`
	Carriers          []CarrierStats `json:"carriers"`
	Latest            []OrderRow     `json:"latest"` // newest first, at most MaxLatest
	// Labels is the warehouse's view of the labels (nil when labels are off): how many wait to
	// be printed, and today's printed batches.
	Labels *Labels `json:"labels,omitempty"`
	// Actions says whether the console's actions are on (admin.token is set); Unmasked whether
	// personal data is shown (admin.unmask). The handler sets both.
	Actions  bool `json:"actions"`
	Unmasked bool `json:"unmasked"`
}

// Labels is what the page shows of the labels.
type Labels struct {
	Unprinted int64 `json:"unprinted"`
	// URL opens the unprinted ones as one printable page (signed when the listener has a
	// token); the handler sets it, and each batch's.
	URL     string       `json:"url"`
	Batches []LabelBatch `json:"batches"` // today's, oldest first
}

// LabelBatch is one printed batch of labels.
type LabelBatch struct {
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
	Count int       `json:"count"`
	URL   string    `json:"url"` // reopens the batch as a reprint
}

// ErrNoLabels answers a label document that does not exist (an unknown batch, nothing
// unprinted).
var ErrNoLabels = errors.New("no such labels")

// labelCSP lets a labels document show carrier templates (their own inline styles, scripts
// that draw barcodes, images) inside its sandboxed frames, and nothing else.
// The document itself is sandboxed too (an opaque origin: a carrier's script in it can never
// reach the admin API), as each label's frame is.
const labelCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data: https: http:; " +
	"font-src data:; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox allow-scripts"

// CarrierStats is one carrier's request outcome and response time.
type CarrierStats struct {
	Name        string  `json:"name"`
	Requests    int64   `json:"requests"`
	SuccessRate float64 `json:"success_rate"` // 0..1
	P50Seconds  float64 `json:"p50_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
	// Paused: an operator paused it; new orders go to routing.failover.
	Paused bool `json:"paused"`
}

// OrderRow is one recent order. Receiver, Phone and Address are filled raw by the producer and
// masked by the handler before they are sent.
type OrderRow struct {
	Key       string    `json:"key"`
	OrderCode string    `json:"order_code"`
	Carrier   string    `json:"carrier"`
	Waybill   string    `json:"waybill"`
	State     string    `json:"state"`  // shipsync's state of the order: written_back, retrying, dead, ...
	Status    string    `json:"status"` // canonical parcel status: created, in_transit, ...
	Exception bool      `json:"exception"`
	Receiver  string    `json:"receiver"`
	Phone     string    `json:"phone"`
	Address   string    `json:"address"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Handler serves the status page and its JSON. It is safe for concurrent use; the snapshot
// function is called once per /api/status request, concurrently if requests are.
type Handler struct {
	snapshot      func(ctx context.Context) (Snapshot, error)
	labels        LabelSource
	dead          DeadLetter
	console       Console
	actions       bool
	unmask        bool
	linkKey       []byte
	log           *slog.Logger
	page, js, css []byte
}

// LabelSource is the daemon's labels (sync/pipeline). Document is a printable page: of every
// label not printed yet (which = "unprinted") or of a printed batch (its id); One is one
// waybill's label; List the labels created since since (zero: all kept), only the unprinted
// ones when unprinted. ErrNoLabels when there is none. None marks anything printed.
type LabelSource interface {
	Document(ctx context.Context, which string) ([]byte, error)
	One(ctx context.Context, waybill string) ([]byte, error)
	List(ctx context.Context, since time.Time, unprinted bool) ([]LabelRow, error)
}

// LabelRow is one label as GET /api/labels lists it.
type LabelRow struct {
	Waybill   string    `json:"waybill"`
	OrderCode string    `json:"order_code"`
	Carrier   string    `json:"carrier"`
	Parcel    int       `json:"parcel"` // 1 for the order's first parcel
	Parcels   int       `json:"parcels"`
	CreatedAt time.Time `json:"created_at"`
	PrintedAt time.Time `json:"printed_at,omitzero"`
}

// WithLabels serves the labels: GET /labels/{which} (a printable page, see LabelSource),
// GET /api/labels/{waybill} (one label's HTML) and GET /api/labels?since=DURATION|batch=next
// (the list as JSON; batch=next lists the unprinted ones and marks nothing: printing them as a
// batch is `shipsync labels print --batch next`).
func (h *Handler) WithLabels(l LabelSource) *Handler {
	h.labels = l
	return h
}

// New returns the handler. snapshot is called on every /api/status request with the request's
// context (bounded to 5 s); an error answers 503.
func New(snapshot func(ctx context.Context) (Snapshot, error)) *Handler {
	return &Handler{snapshot: snapshot, page: asset("page.html"), js: asset("static/app.js"), css: asset("static/app.css")}
}

func asset(name string) []byte {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic("statuspage: embedded asset missing: " + name) // a build defect, not a runtime condition
	}
	return b
}

// Register adds GET / (the page), GET /api/status and the page's two static files to mux. The
// patterns carry no method so that every other method is answered here, with 405.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("/{$}", readOnly(h.static("text/html; charset=utf-8", h.page)))
	mux.Handle("/static/app.js", readOnly(h.static("text/javascript; charset=utf-8", h.js)))
	mux.Handle("/static/app.css", readOnly(h.static("text/css; charset=utf-8", h.css)))
	mux.Handle("/api/status", readOnly(http.HandlerFunc(h.serveStatus)))
	if h.labels != nil {
		mux.Handle("/labels/{which}", readOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.serveLabel(w, r, h.labels.Document, r.PathValue("which"))
		})))
		mux.Handle("/api/labels/{waybill}", readOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.serveLabel(w, r, h.labels.One, r.PathValue("waybill"))
		})))
		mux.Handle("/api/labels", readOnly(http.HandlerFunc(h.serveLabelList)))
	}
	if h.dead != nil {
		h.registerDeadLetter(mux)
	}
	if h.console != nil {
		h.registerConsole(mux)
	}
}

// WithUnmask shows personal data (receivers' names, phones, addresses) unmasked: admin.unmask.
func (h *Handler) WithUnmask(unmask bool) *Handler {
	h.unmask = unmask
	return h
}

func (h *Handler) serveLabelList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			http.Error(w, "since: a duration such as 8h", http.StatusBadRequest)
			return
		}
		since = time.Now().Add(-d)
	}
	if b := q.Get("batch"); b != "" && b != "next" {
		http.Error(w, "batch: only next", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rows, err := h.labels.List(ctx, since, q.Get("batch") == "next")
	if err != nil {
		http.Error(w, "labels unavailable", http.StatusServiceUnavailable)
		return
	}
	if rows == nil {
		rows = []LabelRow{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(rows) //nolint:errcheck // the client went away
}

func (h *Handler) serveLabel(w http.ResponseWriter, r *http.Request, get func(context.Context, string) ([]byte, error), which string) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	doc, err := get(ctx, which)
	switch {
	case errors.Is(err, ErrNoLabels):
		http.Error(w, "no such labels", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "labels unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Security-Policy", labelCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(doc) //nolint:errcheck // the client went away
}

// readOnly sets the security headers on every response and refuses any method but GET and HEAD.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hd.Set("Allow", "GET, HEAD")
			http.Error(w, "read only", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) static(contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(body) //nolint:errcheck // the client went away
	})
}

func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), snapshotTimeout)
	defer cancel()
	s, err := h.snapshot(ctx)
	if err != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"status unavailable"}` + "\n")) //nolint:errcheck // the client went away
		return
	}
	s.Actions, s.Unmasked = h.actions, h.unmask
	if s.Labels != nil {
		s.Labels.URL = h.link("labels/unprinted")
		for i := range s.Labels.Batches {
			s.Labels.Batches[i].URL = h.link("labels/" + s.Labels.Batches[i].ID)
		}
	}
	body, err := json.Marshal(present(s, h.unmask))
	if err != nil {
		// present leaves nothing json cannot encode; kept so a future field cannot fail silently.
		http.Error(w, "encode status", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(append(body, '\n')) //nolint:errcheck // the client went away
}

// present returns the copy of s that may leave the process: personal data masked (unless
// unmask), at most
// MaxLatest orders, no nil lists (the page iterates them) and no NaN or infinity (which JSON
// cannot carry, and a rate over zero requests easily produces). s itself is not modified.
func present(s Snapshot, unmask bool) Snapshot {
	if s.Now.IsZero() {
		s.Now = time.Now()
	}
	s.BinlogLagSeconds = finite(s.BinlogLagSeconds)
	s.CheckpointAgeSeconds = finite(s.CheckpointAgeSeconds)
	s.OrdersPerMinute = finite(s.OrdersPerMinute)
	carriers := make([]CarrierStats, len(s.Carriers))
	for i, c := range s.Carriers {
		c.SuccessRate = finite(c.SuccessRate)
		c.P50Seconds = finite(c.P50Seconds)
		c.P99Seconds = finite(c.P99Seconds)
		carriers[i] = c
	}
	s.Carriers = carriers
	latest := make([]OrderRow, min(len(s.Latest), MaxLatest))
	for i := range latest {
		o := s.Latest[i]
		if !unmask {
			o.Receiver = MaskName(o.Receiver)
			o.Phone = MaskPhone(o.Phone)
			o.Address = MaskAddress(o.Address)
		}
		latest[i] = o
	}
	s.Latest = latest
	return s
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
