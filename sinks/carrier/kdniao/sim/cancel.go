package sim

import (
	"encoding/json"
	"net/http"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
)

const (
	reasonPickedUp  = "快件已揽收，不能取消"
	reasonNoWaybill = "未找到该运单"
	reasonCancelled = "该运单已取消"
)

// cancel answers 1147 with Kdniao's rules: a waybill is cancelled only before its parcel is
// picked up, named by its number and the order code it was created for; the order code stays
// used (a create with it answers 106 with the cancelled waybill). Cancelling a cancelled
// waybill succeeds again, so a client may repeat a cancel it is unsure of.
func (s *Server) cancel(w http.ResponseWriter, data string) {
	var req kdniao.CancelRequest
	if err := json.Unmarshal([]byte(data), &req); err != nil {
		s.invalid.Add(1)
		s.fail(w, codeFormat, "RequestData is not valid JSON: "+err.Error())
		return
	}
	if req.ExpNo == "" || req.ShipperCode == "" {
		s.invalid.Add(1)
		s.fail(w, codeMissing, "missing parameter ExpNo or ShipperCode")
		return
	}
	now := s.now()
	s.mu.Lock()
	rec, ok := s.byWaybill[req.ExpNo]
	switch {
	case !ok || rec.logisticCode != req.ExpNo || (req.OrderCode != "" && rec.orderCode != req.OrderCode):
		s.mu.Unlock()
		s.cancelsRefused.Add(1)
		s.fail(w, codeValidation, reasonNoWaybill)
		return
	case rec.cancelled:
		s.mu.Unlock()
		s.answer(w, response{EBusinessID: s.ebusinessID, Success: true, ResultCode: codeCreated, Reason: reasonCancelled})
		return
	case s.due(rec, now) > 0:
		// The first event of every plan is the pickup.
		s.mu.Unlock()
		s.cancelsRefused.Add(1)
		s.fail(w, codeValidation, reasonPickedUp)
		return
	}
	rec.cancelled = true
	s.mu.Unlock()
	s.cancels.Add(1)
	s.answer(w, response{EBusinessID: s.ebusinessID, Success: true, ResultCode: codeCreated})
}

// Cancelled reports whether the waybill was cancelled (1147).
func (s *Server) Cancelled(waybill string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.byWaybill[waybill]
	return ok && rec.cancelled
}

// PickedUp reports whether the waybill's parcel has been picked up by now (a cancel is refused).
func (s *Server) PickedUp(waybill string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.byWaybill[waybill]
	return ok && s.due(rec, s.now()) > 0
}
