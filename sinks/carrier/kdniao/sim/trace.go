package sim

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
)

const (
	defaultTimeScale = 3600
	defaultFrom      = "上海"
	planStream       = 0x504c_414e_5452_4143 // PCG stream of the plan dice, distinct from the fault dice

	reasonNoTrace        = "暂无轨迹信息"
	reasonUnknownWaybill = "未查询到该单号"
)

// planRates are the fractions of waybills that get each non-normal plan.
type planRates struct{ exception, ret, noPickup float64 }

// stepKind is what happens at one step of a plan; it fixes the State/StateEx and the text.
type stepKind uint8

const (
	stepPickedUp       stepKind = iota // 1/1
	stepDeparted                       // 2/2 left the origin city for a hub
	stepAtHub                          // 2/2
	stepLeftHub                        // 2/2 left the hub for the destination city
	stepArrived                        // 2/201 arrived at the destination city
	stepOut                            // 2/202 out for delivery
	stepSigned                         // 3/301
	stepSignedLate                     // 3/302 signed after an exception
	stepNotSigned                      // 4/402 not signed in time
	stepDeliveryFailed                 // 4/405 delivery exception
	stepRefused                        // 4/404 refused, returning
	stepReturnDeparted                 // 4/407 returning
	stepReturnAtHub                    // 4/407
	stepReturnLeftHub                  // 4/407
	stepReturnSigned                   // 4/406 return signed for by the sender
)

var stepCodes = [...]struct{ state, stateEx string }{
	stepPickedUp:       {"1", "1"},
	stepDeparted:       {"2", "2"},
	stepAtHub:          {"2", "2"},
	stepLeftHub:        {"2", "2"},
	stepArrived:        {"2", "201"},
	stepOut:            {"2", "202"},
	stepSigned:         {"3", "301"},
	stepSignedLate:     {"3", "302"},
	stepNotSigned:      {"4", "402"},
	stepDeliveryFailed: {"4", "405"},
	stepRefused:        {"4", "404"},
	stepReturnDeparted: {"4", "407"},
	stepReturnAtHub:    {"4", "407"},
	stepReturnLeftHub:  {"4", "407"},
	stepReturnSigned:   {"4", "406"},
}

var hubs = [...]string{"杭州", "南京", "武汉", "郑州", "济南", "天津", "合肥", "长沙", "广州", "成都"}

// step is one event of a plan, kept small: a million waybills hold about ten each.
type step struct {
	at   int32 // simulated seconds after the waybill's creation
	kind stepKind
	hub  uint8 // index into hubs, for transit texts
}

// makePlan draws the trace plan of waybill number seq. It depends only on seed and seq, so a
// waybill's plan is the same in every run whatever the order in which creates arrive.
// Simulated timings (uniform in each range):
//
//	normal:    picked up 1-4h (or pickupAfter) · departed +2-6h · at hub +6-14h · left hub +2-6h
//	           (half of them) · arrived 201 +8-16h · out 202 +2-8h · signed 3/301 +1-4h
//	exception: as normal to out 202 · 4/402 or 4/405 +2-6h · out 202 again +12-20h · signed 3/302 +1-4h
//	return:    as normal to out 202 · refused 4/404 +1-4h · 4/407 departed +4-10h · 4/407 at hub
//	           +6-14h · 4/407 left hub +2-6h (half of them) · return signed 4/406 +10-20h
//	no pickup: no event at all (State 0)
func makePlan(seed int64, seq int64, r planRates, pickupAfter time.Duration) []step {
	rng := mrand.New(mrand.NewPCG(uint64(seed), uint64(seq)^planStream))
	u := rng.Float64()
	if u < r.noPickup {
		return nil
	}
	var plan []step
	var at int32
	add := func(k stepKind, hub uint8, lo, hi time.Duration) {
		at += int32(lo/time.Second) + rng.Int32N(int32((hi-lo)/time.Second)+1)
		plan = append(plan, step{at: at, kind: k, hub: hub})
	}
	hub := uint8(rng.IntN(len(hubs)))
	if pickupAfter >= time.Second {
		add(stepPickedUp, 0, pickupAfter, pickupAfter)
	} else {
		add(stepPickedUp, 0, time.Hour, 4*time.Hour)
	}
	add(stepDeparted, hub, 2*time.Hour, 6*time.Hour)
	add(stepAtHub, hub, 6*time.Hour, 14*time.Hour)
	if rng.IntN(2) == 0 {
		add(stepLeftHub, hub, 2*time.Hour, 6*time.Hour)
	}
	add(stepArrived, 0, 8*time.Hour, 16*time.Hour)
	add(stepOut, 0, 2*time.Hour, 8*time.Hour)
	switch {
	case u < r.noPickup+r.ret:
		back := uint8(rng.IntN(len(hubs)))
		add(stepRefused, 0, time.Hour, 4*time.Hour)
		add(stepReturnDeparted, back, 4*time.Hour, 10*time.Hour)
		add(stepReturnAtHub, back, 6*time.Hour, 14*time.Hour)
		if rng.IntN(2) == 0 {
			add(stepReturnLeftHub, back, 2*time.Hour, 6*time.Hour)
		}
		add(stepReturnSigned, 0, 10*time.Hour, 20*time.Hour)
	case u < r.noPickup+r.ret+r.exception:
		problem := stepNotSigned
		if rng.IntN(2) == 0 {
			problem = stepDeliveryFailed
		}
		add(problem, 0, 2*time.Hour, 6*time.Hour)
		add(stepOut, 0, 12*time.Hour, 20*time.Hour)
		add(stepSignedLate, 0, time.Hour, 4*time.Hour)
	default:
		add(stepSigned, 0, time.Hour, 4*time.Hour)
	}
	return plan
}

// dueAt returns the real time at which step i of rec's plan happens: simulated time runs
// TimeScale times faster than real time from the waybill's creation.
func (s *Server) dueAt(rec *record, i int) time.Time {
	return rec.created.Add(time.Duration(float64(rec.plan[i].at) * float64(time.Second) / s.scale))
}

// due returns how many events of rec's plan have happened at real time now.
func (s *Server) due(rec *record, now time.Time) int {
	n := 0
	for n < len(rec.plan) && !s.dueAt(rec, n).After(now) {
		n++
	}
	return n
}

// maxSimulated caps the simulated age of a waybill so that it never overflows a Duration.
const maxSimulated = 100 * 365 * 24 * time.Hour

// simNow returns the simulated wall clock of rec at real time now.
func (s *Server) simNow(rec *record, now time.Time) time.Time {
	sim := float64(now.Sub(rec.created)) * s.scale
	return rec.created.Add(time.Duration(min(max(sim, 0), float64(maxSimulated))))
}

// trace returns rec as the carrier reports it once n events of its plan have happened: all n
// traces oldest first, and the State/StateEx/Location of the newest (State 0 before any).
func (s *Server) trace(rec *record, n int) kdniao.Trace {
	t := kdniao.Trace{
		EBusinessID: s.ebusinessID, OrderCode: rec.orderCode, ShipperCode: rec.shipperCode,
		LogisticCode: rec.logisticCode, Success: true, State: "0",
		Traces: make([]kdniao.TraceEvent, n),
	}
	for i, st := range rec.plan[:n] {
		station, location := describe(rec, st)
		t.Traces[i] = kdniao.TraceEvent{
			AcceptTime:    rec.created.Add(time.Duration(st.at) * time.Second).In(s.loc).Format(kdniao.TimeLayout),
			AcceptStation: station,
			Location:      location,
			Action:        stepCodes[st.kind].stateEx,
		}
	}
	if n > 0 {
		c := stepCodes[rec.plan[n-1].kind]
		t.State, t.StateEx, t.Location = c.state, c.stateEx, t.Traces[n-1].Location
	}
	return t
}

// describe returns the AcceptStation text and Location of st, in the words Chinese couriers use.
func describe(rec *record, st step) (station, location string) {
	hub := hubs[int(st.hub)%len(hubs)]
	switch st.kind {
	case stepPickedUp:
		return fmt.Sprintf("【%s】快递员已揽收", rec.from), rec.from
	case stepDeparted:
		return fmt.Sprintf("快件已从【%s】发出，下一站【%s转运中心】", rec.from, hub), rec.from
	case stepAtHub:
		return fmt.Sprintf("快件已到达【%s转运中心】", hub), hub
	case stepLeftHub:
		return fmt.Sprintf("快件已从【%s转运中心】发出，下一站【%s】", hub, rec.to), hub
	case stepArrived:
		return fmt.Sprintf("快件已到达【%s】", rec.to), rec.to
	case stepOut:
		return fmt.Sprintf("【%s】派件中，派件员：李师傅，电话：138****0000", rec.to), rec.to
	case stepSigned:
		return "已签收，签收人：本人，感谢使用", rec.to
	case stepSignedLate:
		return "再次派送后已签收，签收人：本人", rec.to
	case stepNotSigned:
		return "快件超时未签收，将再次派送", rec.to
	case stepDeliveryFailed:
		return "派件异常：收件人电话无人接听，将改日派送", rec.to
	case stepRefused:
		return "收件人拒收，快件退回中", rec.to
	case stepReturnDeparted:
		return fmt.Sprintf("退回件已从【%s】发出，下一站【%s转运中心】", rec.to, hub), rec.to
	case stepReturnAtHub:
		return fmt.Sprintf("退回件已到达【%s转运中心】", hub), hub
	case stepReturnLeftHub:
		return fmt.Sprintf("退回件已从【%s转运中心】发出，下一站【%s】", hub, rec.from), hub
	case stepReturnSigned:
		return "退回件已签收，签收人：寄件人", rec.from
	}
	return "", ""
}

// Final returns the State and StateEx of the last event of waybill's plan: what a shop that
// heard every push ends with. A waybill that is never picked up ends at State "0", StateEx "".
// ok is false for a waybill the simulator did not create.
func (s *Server) Final(waybill string) (state, stateEx string, ok bool) {
	s.mu.Lock()
	rec, ok := s.byWaybill[waybill]
	s.mu.Unlock()
	if !ok {
		return "", "", false
	}
	if len(rec.plan) == 0 {
		return "0", "", true
	}
	c := stepCodes[rec.plan[len(rec.plan)-1].kind]
	return c.state, c.stateEx, true
}

// track answers a 1002 instant query with the waybill's traces that have happened so far.
func (s *Server) track(w http.ResponseWriter, data string) {
	var req kdniao.TrackRequest
	if err := json.Unmarshal([]byte(data), &req); err != nil {
		s.invalid.Add(1)
		s.fail(w, codeFormat, "RequestData is not valid JSON: "+err.Error())
		return
	}
	if req.LogisticCode == "" {
		s.invalid.Add(1)
		s.fail(w, codeMissing, "missing parameter LogisticCode")
		return
	}
	s.queries.Add(1)
	s.mu.Lock()
	rec, ok := s.byWaybill[req.LogisticCode]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, kdniao.Trace{EBusinessID: s.ebusinessID, OrderCode: req.OrderCode, ShipperCode: req.ShipperCode,
			LogisticCode: req.LogisticCode, Reason: reasonUnknownWaybill, State: "0", Traces: []kdniao.TraceEvent{}})
		return
	}
	t := s.trace(rec, s.due(rec, s.now()))
	if len(t.Traces) == 0 {
		t.Reason = reasonNoTrace
	}
	writeJSON(w, t)
}
