package sim

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"

	"github.com/shipsync/shipsync/sinks/carrier/simkit"
)

const (
	maxBodyBytes = 1 << 20

	requestTypeCreate = "1007"
	requestTypeCancel = "1147"
	requestTypeTrack  = "1002"

	codeCreated     = "100"
	codeMissing     = "101"
	codeFormat      = "103"
	codeAccount     = "104"
	codeOther       = "105"
	codeRepeat      = "106"
	codeValidation  = "102"
	maxParcels      = 50
	reasonBadSign   = "验证数据签名失败"
	reasonBadID     = "EBusinessID error"
	reasonRepeat    = "该订单号已下单成功"
	defaultHang     = 30 * time.Second
	defaultPrefix   = "SIM"
	waybillDigits   = 10
	contentTypeJSON = "application/json;charset=utf-8"
)

// endpoints are Kdniao's paths and the RequestTypes each one answers.
var endpoints = map[string][]string{
	CreatePath: {requestTypeCreate, requestTypeCancel},
	TrackPath:  {requestTypeTrack},
}

// The paths of Kdniao's endpoints that the simulator serves: a client's URL is the simulator's
// address followed by CreatePath, its TrackURL the address followed by TrackPath.
const (
	CreatePath = "/api/EOrderService"
	TrackPath  = "/Ebusiness/EbusinessOrderHandle.aspx"
)

// Config configures a simulator. Latency, ErrorRate and TimeoutAfterCommitRate are the initial
// Faults.
type Config struct {
	EBusinessID, AppKey string
	// Latency is added before answering every create.
	Latency time.Duration
	// ErrorRate is the fraction of creates answered HTTP 500 without creating anything.
	ErrorRate float64
	// TimeoutAfterCommitRate is the fraction of first-time creates that record the waybill and
	// then hang for Hang before answering, so that the client times out not knowing the result.
	TimeoutAfterCommitRate float64
	// Hang defaults to 30s; it ends early when the request's context is done.
	Hang time.Duration
	// PickupAfter, when > 0, makes replies carry PickupTime = now + PickupAfter.
	PickupAfter time.Duration
	Seed        int64
	// Prefix starts every waybill number, default "SIM".
	Prefix string

	// PushTo is the URL that 101 trace pushes are POSTed to (e.g.
	// http://127.0.0.1:9464/push/sim) by Run; empty means no pushes. 1002 queries work either way.
	PushTo string
	// TimeScale is how many simulated seconds pass per real second, default 3600 (an hour a
	// second; 86400 makes a day pass in a second). Each waybill's simulated clock starts at its
	// creation: simulated now = created + real time since × TimeScale.
	TimeScale float64
	// PushEvery is the real-time tick of the push loop, default 50ms.
	PushEvery time.Duration

	// Push faults, each the fraction of pushes it hits: DuplicateRate sends a push twice
	// (sometimes both at once); OutOfOrderRate holds a push back and sends it after the next one
	// for its waybills; BadSignatureRate sends a push first with a corrupted DataSign, then
	// correctly; DropRate never sends a push and never retries it.
	DuplicateRate, OutOfOrderRate, BadSignatureRate, DropRate float64
	// Plan rates, each the fraction of waybills whose plan it picks (drawn once at create, from
	// the seed): NoPickupRate never gets a trace; ReturnRate is refused at the door and returned
	// to the sender; ExceptionRate has a delivery exception, then is delivered. Together at most
	// 1; the rest are delivered normally. See README.md for the plans and their timings.
	ExceptionRate, ReturnRate, NoPickupRate float64
}

// Faults are the knobs that can change while the simulator runs.
type Faults struct {
	Latency                time.Duration
	ErrorRate              float64
	TimeoutAfterCommitRate float64
}

// Stats counts what the simulator did since it started.
type Stats struct {
	Requests int64 `json:"requests"` // every POST
	Creates  int64 `json:"creates"`  // waybills allocated
	Repeats  int64 `json:"repeats"`  // creates answered 106
	Rejects  int64 `json:"rejects"`  // wrong EBusinessID or DataSign
	Invalid  int64 `json:"invalid"`  // unreadable or incomplete requests, unsupported RequestType
	Errors   int64 `json:"errors"`   // HTTP 500 faults
	Timeouts int64 `json:"timeouts"` // timeout-after-commit faults

	// Every push POST counts once in PushesSent and then in exactly one of PushesAcked,
	// PushesFailed and PushesBadSigned.
	PushesSent            int64 `json:"pushes_sent"`              // POSTs of 101 pushes: copies, retries, held ones
	PushesAcked           int64 `json:"pushes_acked"`             // correctly signed, answered HTTP 200 with Success:true
	PushesFailed          int64 `json:"pushes_failed"`            // correctly signed, not acknowledged; retried unless superseded
	PushesDropped         int64 `json:"pushes_dropped"`           // never sent (drop fault)
	PushesDuplicated      int64 `json:"pushes_duplicated"`        // extra copies sent (duplicate fault)
	PushesReordered       int64 `json:"pushes_reordered"`         // held back and sent after a newer one (out-of-order fault)
	PushesBadSigned       int64 `json:"pushes_bad_signed"`        // copies sent with a corrupted DataSign (bad-signature fault)
	PushesBadSignAccepted int64 `json:"pushes_bad_sign_accepted"` // of those, acknowledged: the receiver did not verify
	Queries               int64 `json:"queries"`                  // 1002 instant queries answered
	Cancels               int64 `json:"cancels"`                  // 1147 waybills cancelled
	CancelsRefused        int64 `json:"cancels_refused"`          // 1147 refused: picked up, or unknown waybill
	Labels                int64 `json:"labels"`                   // print templates returned (a repeat's count again)
}

// record is one allocated waybill and its trace plan. The fields up to plan never change after
// commit and are read without a lock; the push state after them is guarded by Server.mu.
type record struct {
	logisticCode string
	orderCode    string
	shipperCode  string
	created      time.Time
	from, to     string // sender's and receiver's city, for trace texts
	plan         []step
	children     []string // child waybills of a create with Quantity > 1 (SubOrders)
	label        labelData
	cancelled    bool // 1147 accepted; guarded by Server.mu. No more pushes.

	level    int       // events covered by the newest push issued (sent, held or dropped)
	acked    int       // events covered by the newest push acknowledged or dropped
	inflight int       // pushes carrying this waybill being sent
	failures int       // unacknowledged attempts in a row, for the backoff
	retryAt  time.Time // real time before which a failed push is not retried; zero: none pending
	held     *push     // a push held back by the out-of-order fault, sent after the next one
}

// Server is the simulator. It implements http.Handler and is safe for concurrent use.
type Server struct {
	ebusinessID string
	appKey      string
	prefix      string
	hang        time.Duration
	pickupAfter time.Duration
	mux         *http.ServeMux

	faults atomic.Pointer[Faults]

	seed      int64
	scale     float64
	rates     planRates
	pushTo    string
	pushEvery time.Duration
	pushFault pushFaults
	http      *http.Client
	loc       *time.Location
	now       func() time.Time // time.Now; tests replace it before any request
	running   atomic.Bool

	dice *simkit.Dice

	mu        sync.Mutex
	seq       int64
	byOrder   map[string]*record
	byWaybill map[string]*record
	active    []*record // waybills whose pushes are not all acknowledged; only when pushing
	lastDue   time.Time // when the last event of any plan becomes due

	requests, creates, repeats, rejects, invalid, errors, timeouts         atomic.Int64
	pushesSent, pushesAcked, pushesFailed, pushesDropped, pushesDuplicated atomic.Int64
	pushesReordered, pushesBadSigned, pushesBadSignAccepted, queries       atomic.Int64
	cancels, cancelsRefused, labels                                        atomic.Int64
}

// New returns a simulator for cfg with defaults applied.
func New(cfg Config) *Server {
	if cfg.Hang <= 0 {
		cfg.Hang = defaultHang
	}
	if cfg.Prefix == "" {
		cfg.Prefix = defaultPrefix
	}
	if !(cfg.TimeScale > 0) { // NaN too
		cfg.TimeScale = defaultTimeScale
	}
	if cfg.PushEvery <= 0 {
		cfg.PushEvery = defaultPushEvery
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxConcurrentPushes
	s := &Server{
		ebusinessID: cfg.EBusinessID,
		appKey:      cfg.AppKey,
		prefix:      cfg.Prefix,
		hang:        cfg.Hang,
		pickupAfter: cfg.PickupAfter,
		mux:         http.NewServeMux(),
		dice:        simkit.NewDice(uint64(cfg.Seed), 0x5349_4d43_4152_5249),
		byOrder:     make(map[string]*record),
		byWaybill:   make(map[string]*record),
		seed:        cfg.Seed,
		scale:       cfg.TimeScale,
		rates:       planRates{exception: cfg.ExceptionRate, ret: cfg.ReturnRate, noPickup: cfg.NoPickupRate},
		pushTo:      cfg.PushTo,
		pushEvery:   cfg.PushEvery,
		pushFault: pushFaults{duplicate: cfg.DuplicateRate, outOfOrder: cfg.OutOfOrderRate,
			badSign: cfg.BadSignatureRate, drop: cfg.DropRate},
		http: &http.Client{Timeout: pushTimeout, Transport: tr},
		loc:  kdniao.Shanghai(),
		now:  time.Now,
	}
	s.SetFaults(Faults{Latency: cfg.Latency, ErrorRate: cfg.ErrorRate, TimeoutAfterCommitRate: cfg.TimeoutAfterCommitRate})
	// Each of Kdniao's endpoints answers its own RequestTypes only, as the real service does, so
	// a client that sends a query to the create endpoint fails here too; other paths are 404.
	for path, types := range endpoints {
		s.mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) { s.handlePost(w, r, types) })
	}
	s.mux.HandleFunc("GET /stats", s.handleStats)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain;charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetFaults replaces the fault knobs; requests already running keep the ones they started with.
func (s *Server) SetFaults(f Faults) {
	s.faults.Store(&f)
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	return Stats{
		Requests: s.requests.Load(),
		Creates:  s.creates.Load(),
		Repeats:  s.repeats.Load(),
		Rejects:  s.rejects.Load(),
		Invalid:  s.invalid.Load(),
		Errors:   s.errors.Load(),
		Timeouts: s.timeouts.Load(),

		PushesSent:            s.pushesSent.Load(),
		PushesAcked:           s.pushesAcked.Load(),
		PushesFailed:          s.pushesFailed.Load(),
		PushesDropped:         s.pushesDropped.Load(),
		PushesDuplicated:      s.pushesDuplicated.Load(),
		PushesReordered:       s.pushesReordered.Load(),
		PushesBadSigned:       s.pushesBadSigned.Load(),
		PushesBadSignAccepted: s.pushesBadSignAccepted.Load(),
		Queries:               s.queries.Load(),
		Cancels:               s.cancels.Load(),
		CancelsRefused:        s.cancelsRefused.Load(),
		Labels:                s.labels.Load(),
	}
}

// Waybill returns the waybill allocated to orderCode, if any.
func (s *Server) Waybill(orderCode string) (string, bool) {
	s.mu.Lock()
	rec, ok := s.byOrder[orderCode]
	s.mu.Unlock()
	if !ok {
		return "", false
	}
	return rec.logisticCode, true
}

// response is Kdniao's answer shape; PickupTime is the simulator's extension.
type response struct {
	EBusinessID          string `json:"EBusinessID"`
	Success              bool   `json:"Success"`
	ResultCode           string `json:"ResultCode"`
	Reason               string `json:"Reason"`
	UniquerRequestNumber string `json:"UniquerRequestNumber"`
	Order                *order `json:"Order,omitempty"`
	PickupTime           string `json:"PickupTime,omitempty"`
	// With Quantity > 1, as Kdniao answers several parcels: the child waybills.
	SubCount  int    `json:"SubCount,omitempty"`
	SubOrders string `json:"SubOrders,omitempty"`
	// With IsReturnPrintTemplate=1.
	PrintTemplate     string   `json:"PrintTemplate,omitempty"`
	SubPrintTemplates []string `json:"SubPrintTemplates,omitempty"`
}

type order struct {
	OrderCode    string `json:"OrderCode"`
	ShipperCode  string `json:"ShipperCode"`
	LogisticCode string `json:"LogisticCode"`
}

// handlePost answers a POST to an endpoint that serves the RequestTypes served.
func (s *Server) handlePost(w http.ResponseWriter, r *http.Request, served []string) {
	s.requests.Add(1)
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.invalid.Add(1)
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		s.fail(w, codeFormat, "bad form: "+err.Error())
		return
	}
	form := r.PostForm
	// The sign is checked over RequestData exactly as received, never a re-marshalled copy.
	data := form.Get("RequestData")
	if form.Get("EBusinessID") != s.ebusinessID {
		s.rejects.Add(1)
		s.fail(w, codeAccount, reasonBadID)
		return
	}
	if !kdniao.Verify(data, s.appKey, form.Get("DataSign")) {
		s.rejects.Add(1)
		s.fail(w, codeAccount, reasonBadSign)
		return
	}
	rt := form.Get("RequestType")
	if !slices.Contains(served, rt) {
		// Unknown types, and known ones sent to another type's endpoint.
		s.invalid.Add(1)
		s.fail(w, codeOther, "RequestType "+rt+" is not served at "+r.URL.Path)
		return
	}
	switch rt {
	case requestTypeCreate:
		s.create(w, r, data)
	case requestTypeTrack:
		s.track(w, data)
	case requestTypeCancel:
		s.cancel(w, data)
	// 101 trace pushes go the other way, sent by Run.
	default:
		s.invalid.Add(1)
		s.fail(w, codeOther, "unsupported RequestType "+rt)
	}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, data string) {
	ctx := r.Context()
	f := s.faults.Load()
	if s.dice.Roll(f.ErrorRate) {
		s.errors.Add(1)
		simkit.Sleep(ctx, f.Latency)
		http.Error(w, "simulated carrier error", http.StatusInternalServerError)
		return
	}
	var req kdniao.CreateRequest
	if err := json.Unmarshal([]byte(data), &req); err != nil {
		s.invalid.Add(1)
		s.fail(w, codeFormat, "RequestData is not valid JSON: "+err.Error())
		return
	}
	if field := missingField(req); field != "" {
		s.invalid.Add(1)
		s.fail(w, codeMissing, "missing parameter "+field)
		return
	}
	if code, reason := refusal(req); code != "" {
		s.invalid.Add(1)
		s.fail(w, code, reason)
		return
	}
	if req.Quantity < 0 || req.Quantity > maxParcels {
		s.invalid.Add(1)
		s.fail(w, codeValidation, fmt.Sprintf("Quantity must be 1 to %d", maxParcels))
		return
	}

	rec, repeat := s.commit(req)
	res := response{
		EBusinessID: s.ebusinessID, Success: true, ResultCode: codeCreated,
		Order: &order{OrderCode: rec.orderCode, ShipperCode: rec.shipperCode, LogisticCode: rec.logisticCode},
	}
	if n := len(rec.children); n > 0 {
		res.SubCount, res.SubOrders = n, strings.Join(rec.children, ",")
	}
	if req.IsReturnPrintTemplate == 1 {
		res.PrintTemplate = labelHTML(rec, 0, req.TemplateSize)
		for i := range rec.children {
			res.SubPrintTemplates = append(res.SubPrintTemplates, labelHTML(rec, i+1, req.TemplateSize))
		}
		s.labels.Add(int64(1 + len(rec.children)))
	}
	if repeat {
		s.repeats.Add(1)
		res.ResultCode, res.Reason = codeRepeat, reasonRepeat
	} else {
		s.creates.Add(1)
		if s.dice.Roll(f.TimeoutAfterCommitRate) {
			s.timeouts.Add(1)
			simkit.Sleep(ctx, s.hang)
		}
	}
	if s.pickupAfter > 0 {
		res.PickupTime = time.Now().Add(s.pickupAfter).In(kdniao.Shanghai()).Format(kdniao.TimeLayout)
	}
	simkit.Sleep(ctx, f.Latency)
	s.answer(w, res)
}

// commit returns the waybill of req.OrderCode, allocating one and planning its traces the
// first time.
func (s *Server) commit(req kdniao.CreateRequest) (rec *record, repeat bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.byOrder[req.OrderCode]; ok {
		return rec, true
	}
	s.seq++
	rec = &record{
		logisticCode: fmt.Sprintf("%s%0*d", s.prefix, waybillDigits, s.seq),
		orderCode:    req.OrderCode,
		shipperCode:  req.ShipperCode,
		created:      now,
		from:         cmp.Or(req.Sender.CityName, req.Sender.ProvinceName, defaultFrom),
		to:           cmp.Or(req.Receiver.CityName, req.Receiver.ProvinceName),
		plan:         makePlan(s.seed, s.seq, s.rates, s.pickupAfter),
		label:        newLabelData(req),
	}
	// Child waybills take the numbers after the parent's, as one allocation.
	for range max(req.Quantity, 1) - 1 {
		s.seq++
		rec.children = append(rec.children, fmt.Sprintf("%s%0*d", s.prefix, waybillDigits, s.seq))
	}
	s.byOrder[req.OrderCode] = rec
	s.byWaybill[rec.logisticCode] = rec
	for _, c := range rec.children {
		s.byWaybill[c] = rec
	}
	if n := len(rec.plan); n > 0 {
		if due := s.dueAt(rec, n-1); due.After(s.lastDue) {
			s.lastDue = due
		}
		if s.pushTo != "" {
			s.active = append(s.active, rec)
		}
	}
	return rec, false
}

// missingField names the first required field req lacks, or returns "".
func missingField(req kdniao.CreateRequest) string {
	switch {
	case req.OrderCode == "":
		return "OrderCode"
	case req.ShipperCode == "":
		return "ShipperCode"
	case req.Receiver.Name == "":
		return "Receiver.Name"
	case req.Receiver.Mobile == "" && req.Receiver.Tel == "":
		return "Receiver.Mobile or Receiver.Tel"
	case req.Receiver.ProvinceName == "":
		return "Receiver.ProvinceName"
	case req.Receiver.CityName == "":
		return "Receiver.CityName"
	case req.Receiver.Address == "":
		return "Receiver.Address"
	}
	return ""
}

func (s *Server) fail(w http.ResponseWriter, code, reason string) {
	s.answer(w, response{EBusinessID: s.ebusinessID, ResultCode: code, Reason: reason})
}

func (s *Server) answer(w http.ResponseWriter, res response) {
	res.UniquerRequestNumber = requestNumber()
	writeJSON(w, res)
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.Stats())
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", contentTypeJSON)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client is gone if this fails; nothing to do
}

// requestNumber returns a random UUID-like string, as Kdniao's UniquerRequestNumber.
func requestNumber() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
