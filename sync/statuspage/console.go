package statuspage

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// Console is what the operator's console reads and does beyond the snapshot (sync/pipeline
// through the daemon). Safe for concurrent use.
type Console interface {
	// Series is the charts' history: span "1h" (10 s points) or "1d" (5 min points).
	Series(ctx context.Context, span string) (Series, error)
	// Stuck lists what waits for a person.
	Stuck(ctx context.Context) (Stuck, error)
	// Order finds one order by its key, its order code or one of its waybills; ok false when
	// none matches.
	Order(ctx context.Context, ref string) (OrderPage, bool, error)
	// Search lists the orders whose key, order code or waybill is q (at most 50).
	Search(ctx context.Context, q string) ([]SearchRow, error)
	// Cancel cancels the order's waybill as a shop cancellation would (sync/parcel) and answers
	// the outcome; Reissue re-issues it (`shipsync waybill reissue`) and answers the new waybill.
	Cancel(ctx context.Context, key string) (string, error)
	Reissue(ctx context.Context, key string) (string, error)
	// Pause stops new orders going to the carrier (they go to routing.failover) until it is
	// resumed (paused false). ErrUnknownCarrier when no such carrier is configured.
	Pause(ctx context.Context, carrier string, paused bool) error
}

// ErrUnknownCarrier answers a pause of a carrier that is not configured.
var ErrUnknownCarrier = errors.New("no such carrier")

// ErrNoOrder answers an action on an order shipsync has no record of.
var ErrNoOrder = errors.New("no such order")

// Series is one span of the charts' history, oldest point first. A step with no point had no
// process sampling (the daemon was down): the page leaves a gap.
type Series struct {
	Span        string    `json:"span"` // "1h" or "1d"
	StepSeconds int       `json:"step_seconds"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Points      []Point   `json:"points"`
	Carriers    []string  `json:"carriers"` // every carrier named in a point, sorted
}

// Point is one step of the history.
type Point struct {
	T          time.Time `json:"t"`           // the step's start
	Shipped    int64     `json:"shipped"`     // orders written back during the step
	LagSeconds float64   `json:"lag_seconds"` // the highest binlog lag seen in the step
	Backlog    int64     `json:"backlog"`     // the highest queue + pending transactions
	Dead       int64     `json:"dead"`        // the dead letter's depth (the highest in the step)
	Retry      int64     `json:"retry"`       // the retry schedule's depth (the highest in the step)
	// Carriers are the creates each carrier answered during the step.
	Carriers map[string]CarrierPoint `json:"carriers"`
}

// CarrierPoint is one carrier's creates in one step.
type CarrierPoint struct {
	Requests    int64   `json:"requests"`
	SuccessRate float64 `json:"success_rate"` // 0..1
	P50Seconds  float64 `json:"p50_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
}

// Stuck is what waits for a person, each list oldest first and at most 200 long.
type Stuck struct {
	Dead     []StuckRow `json:"dead"`     // the dead letter
	Retrying []StuckRow `json:"retrying"` // in the retry schedule
	Flagged  []StuckRow `json:"flagged"`  // parcels flagged: no_pickup, an exception, cancel_after_pickup
	// Waiting are orders paid but without a waybill past watchdog.stuck_after.
	Waiting           []StuckRow `json:"waiting"`
	StuckAfterSeconds float64    `json:"stuck_after_seconds"`
}

// StuckRow is one order in a stuck panel.
type StuckRow struct {
	Key       string    `json:"order"`
	OrderCode string    `json:"order_code"`
	Carrier   string    `json:"carrier"`
	Waybill   string    `json:"waybill"`
	State     string    `json:"state"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	Reason    string    `json:"reason"`          // the last error, or the flag
	Since     time.Time `json:"since"`           // when it got here
	Due       time.Time `json:"due,omitzero"`    // retrying: when it is tried next
	Pinned    bool      `json:"pinned,omitzero"` // only its carrier may be asked again
}

// SearchRow is one order a search found.
type SearchRow struct {
	Key       string    `json:"order"`
	OrderCode string    `json:"order_code"`
	Carrier   string    `json:"carrier"`
	Waybill   string    `json:"waybill"`
	State     string    `json:"state"`
	Status    string    `json:"status"`
	Matched   string    `json:"matched"` // what q matched: order, order_code or waybill
	UpdatedAt time.Time `json:"updated_at"`
}

// OrderPage is one order as its page shows it: its record, its timeline and its labels. It holds
// no receiver data: Redis keeps none, and the reasons and the timeline's texts are written
// without any (a refused phone number is masked where the reason is made).
type OrderPage struct {
	Key              string     `json:"order"`
	OrderCode        string     `json:"order_code"`
	State            string     `json:"state"`
	Carrier          string     `json:"carrier"`
	ShipperCode      string     `json:"shipper_code"`
	Waybill          string     `json:"waybill"`
	Children         []string   `json:"children"`
	PreviousWaybills string     `json:"previous_waybills"`
	Warehouse        string     `json:"warehouse"`
	Attempts         int        `json:"attempts"`
	LastError        string     `json:"last_error"`
	Pinned           bool       `json:"pinned"`
	Reissues         int        `json:"reissues"`
	Status           string     `json:"status"`
	StatusException  bool       `json:"status_exception"`
	StatusReason     string     `json:"status_reason"`
	StatusTime       time.Time  `json:"status_time,omitzero"`
	CreatedAt        time.Time  `json:"created_at,omitzero"`
	UpdatedAt        time.Time  `json:"updated_at,omitzero"`
	WaybillAt        time.Time  `json:"waybill_at,omitzero"`
	InDeadLetter     bool       `json:"in_dead_letter"`
	Timeline         []TimeStep `json:"timeline"` // oldest first
	Labels           []LabelRef `json:"labels"`   // with labels on: one per parcel
}

// TimeStep is one entry of an order's timeline.
type TimeStep struct {
	At time.Time `json:"at"`
	// Kind: detected, submitting (a carrier asked), waybill (it answered one), written (the
	// shop's statements, by name), retry, dead, conflict, skipped, status (a push or a poll),
	// cancel, reissue, action (an operator's).
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// LabelRef is one parcel's label on an order's page: URL opens it (signed when the admin
// listener has a token, so a new tab can open it).
type LabelRef struct {
	Waybill string `json:"waybill"`
	Parcel  int    `json:"parcel"` // 1 for the first
	URL     string `json:"url"`
}

// WithConsole serves the console's reads — GET /api/series?span=1h|1d, GET /api/stuck, GET
// /api/orders/{ref}, GET /api/search?q= — and its actions (POST, refused like the dead
// letter's without admin.token): /api/waybills/{key}/cancel|reissue and
// /api/carriers/{name}/pause|resume.
func (h *Handler) WithConsole(c Console) *Handler {
	h.console = c
	return h
}

func (h *Handler) registerConsole(mux *http.ServeMux) {
	mux.Handle("/api/series", readOnly(http.HandlerFunc(h.serveSeries)))
	mux.Handle("/api/stuck", readOnly(http.HandlerFunc(h.serveStuck)))
	mux.Handle("/api/orders/{ref}", readOnly(http.HandlerFunc(h.serveOrder)))
	mux.Handle("/api/search", readOnly(http.HandlerFunc(h.serveSearch)))
	mux.Handle("POST /api/waybills/{key}/{action}", action(h.actions, http.HandlerFunc(h.serveWaybillAction)))
	mux.Handle("POST /api/carriers/{name}/{action}", action(h.actions, http.HandlerFunc(h.serveCarrierAction)))
}

func (h *Handler) serveSeries(w http.ResponseWriter, r *http.Request) {
	span := r.URL.Query().Get("span")
	if span == "" {
		span = "1h"
	}
	if span != "1h" && span != "1d" {
		http.Error(w, "span: 1h or 1d", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	s, err := h.console.Series(ctx, span)
	if err != nil {
		h.readFailed("series", err)
		http.Error(w, "series unavailable", http.StatusServiceUnavailable)
		return
	}
	for i := range s.Points {
		p := &s.Points[i]
		p.LagSeconds = finite(p.LagSeconds)
		for n, c := range p.Carriers {
			c.SuccessRate, c.P50Seconds, c.P99Seconds = finite(c.SuccessRate), finite(c.P50Seconds), finite(c.P99Seconds)
			p.Carriers[n] = c
		}
	}
	if s.Points == nil {
		s.Points = []Point{}
	}
	if s.Carriers == nil {
		s.Carriers = []string{}
	}
	writeJSON(w, s)
}

func (h *Handler) serveStuck(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	s, err := h.console.Stuck(ctx)
	if err != nil {
		h.readFailed("stuck", err)
		http.Error(w, "stuck orders unavailable", http.StatusServiceUnavailable)
		return
	}
	for _, l := range []*[]StuckRow{&s.Dead, &s.Retrying, &s.Flagged, &s.Waiting} {
		if *l == nil {
			*l = []StuckRow{}
		}
	}
	writeJSON(w, s)
}

func (h *Handler) serveOrder(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	o, ok, err := h.console.Order(ctx, r.PathValue("ref"))
	switch {
	case err != nil:
		h.readFailed("order", err)
		http.Error(w, "order unavailable", http.StatusServiceUnavailable)
		return
	case !ok:
		http.Error(w, "no such order", http.StatusNotFound)
		return
	}
	for i := range o.Labels {
		o.Labels[i].URL = h.link("api/labels/" + o.Labels[i].Waybill)
	}
	if o.Children == nil {
		o.Children = []string{}
	}
	if o.Timeline == nil {
		o.Timeline = []TimeStep{}
	}
	if o.Labels == nil {
		o.Labels = []LabelRef{}
	}
	writeJSON(w, o)
}

func (h *Handler) serveSearch(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		http.Error(w, "q: an order code, a waybill or an order key", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rows, err := h.console.Search(ctx, q)
	if err != nil {
		h.readFailed("search", err)
		http.Error(w, "search unavailable", http.StatusServiceUnavailable)
		return
	}
	if rows == nil {
		rows = []SearchRow{}
	}
	writeJSON(w, rows)
}

// waybillResult is what a cancel or a reissue answers.
type waybillResult struct {
	Action  string `json:"action"`
	Order   string `json:"order"`
	Outcome string `json:"outcome,omitempty"` // cancel: cancelled, cancel_after_pickup, ...
	Waybill string `json:"waybill,omitempty"` // reissue: the new waybill
}

func (h *Handler) serveWaybillAction(w http.ResponseWriter, r *http.Request) {
	key, act := r.PathValue("key"), r.PathValue("action")
	// A cancel or a reissue calls the carrier and waits for the order's lock.
	ctx, cancel := context.WithTimeout(withOperator(r), 60*time.Second)
	defer cancel()
	res := waybillResult{Action: act, Order: key}
	var err error
	switch act {
	case "cancel":
		res.Outcome, err = h.console.Cancel(ctx, key)
	case "reissue":
		res.Waybill, err = h.console.Reissue(ctx, key)
	default:
		http.NotFound(w, r)
		return
	}
	who := operator(r)
	if err != nil {
		h.log.Warn("admin action failed", "action", "waybill "+act, "order", key, "who", who, "from", r.RemoteAddr, "err", err)
		code := http.StatusConflict
		if errors.Is(err, ErrNoOrder) {
			code = http.StatusNotFound
		}
		http.Error(w, "waybill "+act+" "+key+": "+err.Error(), code)
		return
	}
	h.log.Info("admin action", "action", "waybill "+act, "order", key, "outcome", res.Outcome, "waybill", res.Waybill,
		"who", who, "from", r.RemoteAddr)
	writeJSON(w, res)
}

// carrierResult is what a pause or a resume answers.
type carrierResult struct {
	Action  string `json:"action"`
	Carrier string `json:"carrier"`
	Paused  bool   `json:"paused"`
}

func (h *Handler) serveCarrierAction(w http.ResponseWriter, r *http.Request) {
	name, act := r.PathValue("name"), r.PathValue("action")
	if act != "pause" && act != "resume" {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(withOperator(r), 10*time.Second)
	defer cancel()
	who := operator(r)
	if err := h.console.Pause(ctx, name, act == "pause"); err != nil {
		h.log.Warn("admin action failed", "action", "carrier "+act, "carrier", name, "who", who, "from", r.RemoteAddr, "err", err)
		code := http.StatusServiceUnavailable
		if errors.Is(err, ErrUnknownCarrier) {
			code = http.StatusNotFound
		}
		http.Error(w, "carrier "+act+" "+name+": "+err.Error(), code)
		return
	}
	h.log.Info("admin action", "action", "carrier "+act, "carrier", name, "who", who, "from", r.RemoteAddr)
	writeJSON(w, carrierResult{Action: act, Carrier: name, Paused: act == "pause"})
}

// OperatorHeader names the person behind an action, for the log (the page sends what its user
// typed in; the token says only that the request may act).
const OperatorHeader = "X-Shipsync-Operator"

type operatorKey struct{}

// withOperator carries the request's operator into the action's context.
func withOperator(r *http.Request) context.Context {
	return context.WithValue(r.Context(), operatorKey{}, operator(r))
}

// OperatorOf is the name of the operator whose action ctx carries ("-" when none was given).
func OperatorOf(ctx context.Context) string {
	if v, ok := ctx.Value(operatorKey{}).(string); ok {
		return v
	}
	return "-"
}

// operator is the request's operator name, cut to 64 printable characters (no control or
// format characters: no bidi override can turn a timeline around); "-" when none. It is a
// label the operator gives, not an identity: the token says only that the request may act.
func operator(r *http.Request) string {
	v := strings.Map(func(c rune) rune {
		if !unicode.IsPrint(c) && c != ' ' || unicode.Is(unicode.Cf, c) {
			return -1
		}
		return c
	}, strings.TrimSpace(r.Header.Get(OperatorHeader)))
	if len([]rune(v)) > 64 {
		v = string([]rune(v)[:64])
	}
	if v == "" {
		return "-"
	}
	return v
}

// readFailed logs why a console read answered 503 (the answer itself says nothing more).
func (h *Handler) readFailed(what string, err error) {
	if h.log != nil {
		h.log.Warn("console read failed", "read", what, "err", err)
	}
}
