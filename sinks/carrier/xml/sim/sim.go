package sim

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sfxml "github.com/shipsync/shipsync/sinks/carrier/xml"

	"github.com/shipsync/shipsync/sinks/carrier/simkit"
)

// Path is the simulator's endpoint, SF's BSP path: every service is answered there.
const Path = "/bsp-oisp/sfexpressService"

const (
	defaultPrefix = "SF"
	waybillDigits = 13
	defaultHang   = 30 * time.Second
	pushTimeout   = 10 * time.Second

	// codeNoOrder answers OrderSearchService for an orderid never ordered. SF's own code for
	// this case is not confirmed (README.md); the client reads any 8xxx as a rejection.
	codeNoOrder = "8150"

	reasonRejected = "verifyCode or customer code does not verify"
	reasonRepeat   = "重复下单"
	reasonParse    = "报文解析错误"
	reasonMissing  = "必填项为空"
	reasonNoOrder  = "找不到该订单"
)

// Config configures a simulator. Latency, ErrorRate and TimeoutAfterCommitRate are the initial
// Faults.
type Config struct {
	CustomerCode, Checkword string
	// Prefix starts every waybill number, default "SF".
	Prefix string
	// Latency is added before answering every OrderService request.
	Latency time.Duration
	// ErrorRate is the fraction of OrderService requests answered HTTP 500 without creating
	// anything.
	ErrorRate float64
	// TimeoutAfterCommitRate is the fraction of first-time orders that record the waybill and
	// then hang for Hang before answering, so that the client times out not knowing the result.
	TimeoutAfterCommitRate float64
	// Hang defaults to 30s; it ends early when the request's context is done.
	Hang time.Duration
	Seed int64
}

// Faults are the knobs that can change while the simulator runs.
type Faults struct {
	Latency                time.Duration
	ErrorRate              float64
	TimeoutAfterCommitRate float64
}

// Stats counts what the simulator did since it started.
type Stats struct {
	Requests    int64 `json:"requests"`     // every POST to Path
	Creates     int64 `json:"creates"`      // waybills allocated
	Repeats     int64 `json:"repeats"`      // OrderService refused with 8016
	Searches    int64 `json:"searches"`     // OrderSearchService answered
	Queries     int64 `json:"queries"`      // RouteService answered
	Rejects     int64 `json:"rejects"`      // verifyCode or Head did not verify
	Invalid     int64 `json:"invalid"`      // unreadable documents, missing fields, unknown services
	Errors      int64 `json:"errors"`       // HTTP 500 faults
	Timeouts    int64 `json:"timeouts"`     // hang-after-commit faults
	Pushes      int64 `json:"pushes"`       // RoutePushService POSTs sent
	PushesAcked int64 `json:"pushes_acked"` // of those, answered 200 with Head OK
}

// Entry is the ledger line of one orderid.
type Entry struct {
	OrderID  string `json:"orderid"`
	MailNo   string `json:"mailno"`
	Orders   int    `json:"orders"`   // OrderService requests that reached the ledger: the first and the repeats
	Repeats  int    `json:"repeats"`  // of those, refused with 8016
	Searches int    `json:"searches"` // OrderSearchService requests for it
}

// record is one allocated waybill: its ledger entry and the scans recorded so far.
type record struct {
	entry    Entry
	from, to string // sender's and receiver's city, for scan addresses
	routes   []sfxml.WaybillRoute
	last     time.Time
}

// Server is the simulator. It implements http.Handler and is safe for concurrent use.
type Server struct {
	customerCode, checkword string
	prefix                  string
	hang                    time.Duration
	mux                     *http.ServeMux
	http                    *http.Client
	faults                  atomic.Pointer[Faults]
	dice                    *simkit.Dice
	now                     func() time.Time

	mu        sync.Mutex
	seq       int64
	routeSeq  int64
	byOrder   map[string]*record
	byMailNo  map[string]*record
	creations []*record

	requests, creates, repeats, searches, queries, rejects, invalid, errors, timeouts atomic.Int64
	pushes, pushesAcked                                                               atomic.Int64
}

// New returns a simulator for cfg with defaults applied.
func New(cfg Config) *Server {
	s := &Server{
		customerCode: cfg.CustomerCode,
		checkword:    cfg.Checkword,
		prefix:       cmp.Or(cfg.Prefix, defaultPrefix),
		hang:         cmp.Or(cfg.Hang, defaultHang),
		mux:          http.NewServeMux(),
		http:         &http.Client{Timeout: pushTimeout},
		dice:         simkit.NewDice(uint64(cfg.Seed), 0x5346_584d_4c53_494d),
		now:          time.Now,
		byOrder:      make(map[string]*record),
		byMailNo:     make(map[string]*record),
	}
	s.SetFaults(Faults{Latency: cfg.Latency, ErrorRate: cfg.ErrorRate, TimeoutAfterCommitRate: cfg.TimeoutAfterCommitRate})
	s.mux.HandleFunc("POST "+Path, s.handle)
	s.mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats()) // the client is gone if this fails
	})
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain;charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
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
		Requests: s.requests.Load(), Creates: s.creates.Load(), Repeats: s.repeats.Load(),
		Searches: s.searches.Load(), Queries: s.queries.Load(), Rejects: s.rejects.Load(),
		Invalid: s.invalid.Load(), Errors: s.errors.Load(), Timeouts: s.timeouts.Load(),
		Pushes: s.pushes.Load(), PushesAcked: s.pushesAcked.Load(),
	}
}

// Waybill returns the waybill allocated to orderID, if any.
func (s *Server) Waybill(orderID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.byOrder[orderID]
	if !ok {
		return "", false
	}
	return rec.entry.MailNo, true
}

// Ledger returns one entry per orderid ever ordered, in order of creation.
func (s *Server) Ledger() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, len(s.creations))
	for i, rec := range s.creations {
		out[i] = rec.entry
	}
	return out
}

// handle answers one POST: verify, read, dispatch by service.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	r.Body = http.MaxBytesReader(w, r.Body, 2*sfxml.MaxDocumentBytes)
	if err := r.ParseForm(); err != nil {
		s.invalid.Add(1)
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		s.fail(w, "", sfxml.CodeParse, reasonParse+": "+err.Error())
		return
	}
	form := r.PostForm
	if len(form[sfxml.FieldXML]) != 1 || len(form[sfxml.FieldVerifyCode]) != 1 {
		s.rejects.Add(1)
		s.fail(w, "", sfxml.CodeSystem, reasonRejected)
		return
	}
	// Verified over the document exactly as received, before it is read.
	doc := form.Get(sfxml.FieldXML)
	if !sfxml.Verify(doc, s.checkword, form.Get(sfxml.FieldVerifyCode)) {
		s.rejects.Add(1)
		s.fail(w, "", sfxml.CodeSystem, reasonRejected)
		return
	}
	req, err := sfxml.ParseRequest([]byte(doc))
	if err != nil {
		s.invalid.Add(1)
		s.fail(w, "", sfxml.CodeParse, reasonParse)
		return
	}
	if req.Head != s.customerCode {
		s.rejects.Add(1)
		s.fail(w, req.Service, sfxml.CodeSystem, reasonRejected)
		return
	}
	switch req.Service {
	case sfxml.ServiceOrder:
		s.order(r.Context(), w, req.Body.Order)
	case sfxml.ServiceOrderSearch:
		s.search(w, req.Body.OrderSearch)
	case sfxml.ServiceRoute:
		s.route(w, req.Body.RouteRequest)
	default:
		s.invalid.Add(1)
		s.fail(w, req.Service, sfxml.CodeParse, "service not served: "+req.Service)
	}
}

func (s *Server) order(ctx context.Context, w http.ResponseWriter, o *sfxml.OrderRequest) {
	f := s.faults.Load()
	if s.dice.Roll(f.ErrorRate) {
		s.errors.Add(1)
		simkit.Sleep(ctx, f.Latency)
		http.Error(w, "simulated carrier error", http.StatusInternalServerError)
		return
	}
	if o == nil {
		s.invalid.Add(1)
		s.fail(w, sfxml.ServiceOrder, sfxml.CodeParse, reasonParse+": no Order")
		return
	}
	if field := missingField(o); field != "" {
		s.invalid.Add(1)
		s.fail(w, sfxml.ServiceOrder, sfxml.CodeMissing, reasonMissing+": "+field)
		return
	}
	rec, repeat := s.commit(o)
	if repeat {
		s.repeats.Add(1)
		simkit.Sleep(ctx, f.Latency)
		s.fail(w, sfxml.ServiceOrder, sfxml.CodeRepeat, reasonRepeat)
		return
	}
	s.creates.Add(1)
	if s.dice.Roll(f.TimeoutAfterCommitRate) {
		s.timeouts.Add(1)
		simkit.Sleep(ctx, s.hang)
	}
	simkit.Sleep(ctx, f.Latency)
	s.answer(w, sfxml.Response{Service: sfxml.ServiceOrder, Head: sfxml.HeadOK,
		Body: &sfxml.ResponseBody{Orders: []sfxml.OrderResponse{orderResponse(rec.entry)}}})
}

// commit returns the record of o's orderid, allocating a waybill the first time, and counts
// the request in the ledger.
func (s *Server) commit(o *sfxml.OrderRequest) (rec record, repeat bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.byOrder[o.OrderID]; ok {
		r.entry.Orders++
		r.entry.Repeats++
		return *r, true
	}
	s.seq++
	r := &record{
		entry: Entry{OrderID: o.OrderID, MailNo: fmt.Sprintf("%s%0*d", s.prefix, waybillDigits, s.seq), Orders: 1},
		from:  cmp.Or(o.JCity, o.JProvince),
		to:    cmp.Or(o.DCity, o.DProvince),
	}
	s.byOrder[o.OrderID] = r
	s.byMailNo[r.entry.MailNo] = r
	s.creations = append(s.creations, r)
	return *r, false
}

func orderResponse(e Entry) sfxml.OrderResponse {
	return sfxml.OrderResponse{OrderID: e.OrderID, MailNo: e.MailNo, OriginCode: "021", DestCode: "010", FilterResult: "2"}
}

// missingField names the first required attribute o lacks, or returns "".
func missingField(o *sfxml.OrderRequest) string {
	for _, f := range []struct{ name, v string }{
		{"orderid", o.OrderID},
		{"j_contact", o.JContact}, {"j_tel", o.JTel}, {"j_address", o.JAddress},
		{"d_contact", o.DContact}, {"d_tel", o.DTel}, {"d_address", o.DAddress},
	} {
		if strings.TrimSpace(f.v) == "" {
			return f.name
		}
	}
	return ""
}

func (s *Server) search(w http.ResponseWriter, q *sfxml.OrderSearch) {
	if q == nil || q.OrderID == "" {
		s.invalid.Add(1)
		s.fail(w, sfxml.ServiceOrderSearch, sfxml.CodeMissing, reasonMissing+": orderid")
		return
	}
	s.searches.Add(1)
	s.mu.Lock()
	rec, ok := s.byOrder[q.OrderID]
	var e Entry
	if ok {
		rec.entry.Searches++
		e = rec.entry
	}
	s.mu.Unlock()
	if !ok {
		s.fail(w, sfxml.ServiceOrderSearch, codeNoOrder, reasonNoOrder)
		return
	}
	s.answer(w, sfxml.Response{Service: sfxml.ServiceOrderSearch, Head: sfxml.HeadOK,
		Body: &sfxml.ResponseBody{Orders: []sfxml.OrderResponse{orderResponse(e)}}})
}

func (s *Server) route(w http.ResponseWriter, q *sfxml.RouteRequest) {
	if q == nil || q.TrackingNumber == "" {
		s.invalid.Add(1)
		s.fail(w, sfxml.ServiceRoute, sfxml.CodeMissing, reasonMissing+": tracking_number")
		return
	}
	s.queries.Add(1)
	body := &sfxml.ResponseBody{}
	s.mu.Lock()
	var rec *record
	switch q.TrackingType {
	case "2":
		rec = s.byOrder[q.TrackingNumber]
	default:
		rec = s.byMailNo[q.TrackingNumber]
	}
	if rec != nil {
		rr := sfxml.RouteResponse{MailNo: rec.entry.MailNo, OrderID: rec.entry.OrderID}
		for _, wr := range rec.routes {
			rr.Routes = append(rr.Routes, sfxml.Route{AcceptTime: wr.AcceptTime, AcceptAddress: wr.AcceptAddress,
				Remark: wr.Remark, OpCode: wr.OpCode})
		}
		body.Routes = []sfxml.RouteResponse{rr}
	}
	s.mu.Unlock()
	// An unknown number has no routes: SF answers OK with an empty body.
	s.answer(w, sfxml.Response{Service: sfxml.ServiceRoute, Head: sfxml.HeadOK, Body: body})
}

func (s *Server) fail(w http.ResponseWriter, service, code, reason string) {
	s.answer(w, sfxml.Response{Service: service, Head: sfxml.HeadErr, Error: &sfxml.ErrorElement{Code: code, Reason: reason}})
}

func (s *Server) answer(w http.ResponseWriter, r sfxml.Response) {
	b, err := r.Encode()
	if err != nil {
		http.Error(w, "encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=utf-8")
	_, _ = w.Write(b) // the client is gone if this fails; nothing to do
}

// remarks are the texts SF writes for the opCodes the simulator scans (README.md, "opCodes");
// %s is the scan's city.
var remarks = map[string]string{
	"50":   "顺丰速运 已收取快件",
	"54":   "顺丰速运 已收取快件",
	"30":   "快件在【%s】完成分拣，准备发往下一站",
	"31":   "快件到达【%s】",
	"36":   "快件离开【%s】，已发往下一站",
	"44":   "快件交给收派员，正在派送途中",
	"204":  "快件派送中",
	"80":   "已签收,感谢使用顺丰,期待再次为您服务",
	"8000": "在官网\"运单资料&签收图\",可查看签收人信息",
	"70":   "由于收方原因派件不成功",
	"33":   "派件异常",
	"99":   "快件已退回",
}

// Scan records a scan of waybill mailNo with opCode at the current time (one second after the
// waybill's previous scan when that is later: AcceptTime has whole seconds) and returns it as
// a push carries it. RouteService answers it from then on; Push sends it.
func (s *Server) Scan(mailNo, opCode string) (sfxml.WaybillRoute, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.byMailNo[mailNo]
	if !ok {
		return sfxml.WaybillRoute{}, fmt.Errorf("sim: scan %s: unknown waybill", mailNo)
	}
	at := s.now().In(sfxml.Shanghai()).Truncate(time.Second)
	if !at.After(rec.last) {
		at = rec.last.Add(time.Second)
	}
	rec.last = at
	city := rec.from
	switch opCode {
	case "44", "204", "80", "8000", "70", "33":
		city = rec.to
	case "30", "31", "36":
		if len(rec.routes)%2 == 1 {
			city = rec.to
		}
	}
	remark := remarks[opCode]
	if strings.Contains(remark, "%s") {
		remark = fmt.Sprintf(remark, city)
	}
	s.routeSeq++
	wr := sfxml.WaybillRoute{ID: strconv.FormatInt(s.routeSeq, 10), MailNo: mailNo, OrderID: rec.entry.OrderID,
		AcceptTime: at.Format(sfxml.TimeLayout), AcceptAddress: city, Remark: remark, OpCode: opCode}
	rec.routes = append(rec.routes, wr)
	return wr, nil
}

// Routes returns the scans recorded for mailNo, oldest first.
func (s *Server) Routes(mailNo string) []sfxml.WaybillRoute {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.byMailNo[mailNo]; ok {
		return slices.Clone(rec.routes)
	}
	return nil
}

// Push sends routes to url as RoutePushService does, signed with the account's checkword, and
// reports whether the receiver acknowledged them (HTTP 200, <Head>OK</Head>). err reports only
// a failure to deliver.
func (s *Server) Push(ctx context.Context, url string, routes []sfxml.WaybillRoute) (acked bool, err error) {
	form, err := sfxml.EncodePush(s.customerCode, routes, s.checkword)
	if err != nil {
		return false, fmt.Errorf("sim: push: %w", err)
	}
	_, acked, err = s.PushForm(ctx, url, form)
	return acked, err
}

// PushForm POSTs form as a push (for forged, truncated or unsigned ones) and returns the
// receiver's HTTP status and whether it acknowledged.
func (s *Server) PushForm(ctx context.Context, target string, form url.Values) (status int, acked bool, err error) {
	s.pushes.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, false, fmt.Errorf("sim: push: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("sim: push: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp.StatusCode, false, nil
	}
	reply, err := sfxml.ParseResponse(body)
	acked = err == nil && reply.Head == sfxml.HeadOK && reply.Service == sfxml.ServiceRoutePush
	if acked {
		s.pushesAcked.Add(1)
	}
	return resp.StatusCode, acked, nil
}
