package sim

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
)

const (
	defaultPushEvery    = 50 * time.Millisecond
	pushTimeout         = 5 * time.Second // Kdniao's: an answer later than this is a failure
	maxPerPush          = 10              // waybills grouped into one push
	maxConcurrentPushes = 16
	minBackoff          = 200 * time.Millisecond
	maxBackoff          = 2 * time.Second
	maxReplyBytes       = 64 << 10
	formContentType     = "application/x-www-form-urlencoded;charset=utf-8"
)

// pushFaults are the per-push fault rates.
type pushFaults struct{ duplicate, outOfOrder, badSign, drop float64 }

// push is one 101 push: a group of waybills, each at the number of events it carries.
type push struct {
	members []member

	badSign, duplicate, concurrent bool // faults drawn when it was issued
	held                           bool // held back by the out-of-order fault
	released                       bool // a held push on its way, after the newer one
}

type member struct {
	rec   *record
	level int
}

// Run pushes traces to Config.PushTo until ctx is done, then waits for the pushes in flight and
// returns nil. Every PushEvery it finds the waybills with events that became due (or with a
// failed push whose backoff is over), groups them up to ten per push, and POSTs each push
// signed as kdniao.EncodePush makes it, every waybill with all its traces so far. A push is
// delivered only when answered HTTP 200 with JSON Success:true within 5s; otherwise it is tried
// again after a backoff of 200ms doubling to 2s (real time), with the traces current by then.
// The push faults of Config apply to each push as described there.
//
// New starts nothing: the caller runs Run in its own goroutine, at most once at a time. Run
// returns an error at once when PushTo is empty or not an http(s) URL.
func (s *Server) Run(ctx context.Context) error {
	u, err := url.Parse(s.pushTo)
	switch {
	case s.pushTo == "":
		return errors.New("sim: run pushes: no PushTo configured")
	case err != nil:
		return fmt.Errorf("sim: run pushes: %w", err)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("sim: run pushes: PushTo %q is not an http(s) URL", s.pushTo)
	}
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("sim: run pushes: already running")
	}
	defer s.running.Store(false)

	r := &runner{s: s, ctx: ctx, sem: make(chan struct{}, maxConcurrentPushes)}
	defer r.wg.Wait()
	t := time.NewTicker(s.pushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.tick()
		}
	}
}

// Settled reports whether every waybill's plan has fully happened and, when pushes are on,
// its newest push has been acknowledged (or dropped by the drop fault) and nothing is in
// flight. With pushes on, it stays false until Run has delivered them.
func (s *Server) Settled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.now().Before(s.lastDue) {
		return false
	}
	if s.pushTo == "" {
		return true
	}
	for _, rec := range s.active {
		if !rec.done() {
			return false
		}
	}
	return true
}

// done reports whether rec's pushes are over: its last event pushed and acknowledged (or
// dropped), nothing in flight or held. Called with Server.mu held.
func (rec *record) done() bool {
	if rec.cancelled && rec.inflight == 0 && rec.held == nil {
		return true
	}
	n := len(rec.plan)
	return rec.level == n && rec.acked == n && rec.inflight == 0 && rec.held == nil
}

// runner is one Run: the goroutines it started and their limit.
type runner struct {
	s   *Server
	ctx context.Context
	wg  sync.WaitGroup
	sem chan struct{}
}

// tick issues the pushes that are due now.
func (r *runner) tick() {
	s := r.s
	now, real := s.now(), time.Now()
	var send []*push

	s.mu.Lock()
	var ready []member
	keep := s.active[:0]
	for _, rec := range s.active {
		if rec.done() {
			continue
		}
		keep = append(keep, rec)
		if rec.inflight > 0 {
			continue
		}
		retry := !rec.retryAt.IsZero()
		if retry && real.Before(rec.retryAt) {
			continue
		}
		if due := s.due(rec, now); due > rec.level || (retry && rec.acked < due) {
			ready = append(ready, member{rec: rec, level: due})
		}
	}
	clear(s.active[len(keep):])
	s.active = keep
	for group := range slices.Chunk(ready, maxPerPush) {
		p := &push{members: slices.Clone(group)}
		for _, m := range p.members {
			m.rec.level, m.rec.retryAt = m.level, time.Time{}
		}
		send = append(send, s.issue(p)...)
	}
	s.mu.Unlock()

	for _, p := range send {
		r.send(p)
	}
}

// issue draws p's faults and returns the pushes to send now: p itself, unless it is dropped
// or held back, and the held pushes its drop releases. Called with Server.mu held.
func (s *Server) issue(p *push) []*push {
	f := s.pushFault
	if s.dice.Roll(f.drop) {
		s.pushesDropped.Add(1)
		for _, m := range p.members {
			m.rec.acked = max(m.rec.acked, m.level)
		}
		return s.releaseHeld(p)
	}
	// Only a push with a next one to come for each of its waybills can be held back for it.
	if s.dice.Roll(f.outOfOrder) && !slices.ContainsFunc(p.members, func(m member) bool {
		return m.level >= len(m.rec.plan) || m.rec.held != nil
	}) {
		p.held = true
		for _, m := range p.members {
			m.rec.held = p
		}
		return nil
	}
	p.badSign = s.dice.Roll(f.badSign)
	p.duplicate = s.dice.Roll(f.duplicate)
	p.concurrent = p.duplicate && s.dice.Roll(0.5)
	for _, m := range p.members {
		m.rec.inflight++
	}
	return []*push{p}
}

// releaseHeld returns the pushes held back for p's waybills, now that p (a newer push for
// them) has been sent or dropped. Called with Server.mu held.
func (s *Server) releaseHeld(p *push) []*push {
	var out []*push
	for _, m := range p.members {
		h := m.rec.held
		if h == nil || h == p || h.released {
			continue
		}
		h.released = true
		for _, hm := range h.members {
			if hm.rec.held == h {
				hm.rec.held = nil
			}
			hm.rec.inflight++
		}
		out = append(out, h)
	}
	return out
}

// send delivers p in a goroutine, then records the outcome and sends what that releases.
func (r *runner) send(p *push) {
	r.wg.Go(func() {
		ok := false
		select {
		case r.sem <- struct{}{}:
			ok = r.deliver(p)
			<-r.sem
		case <-r.ctx.Done():
		}
		for _, h := range r.s.complete(p, ok) {
			r.send(h)
		}
	})
}

// complete records the outcome of p and returns the held pushes it releases.
func (s *Server) complete(p *push, ok bool) []*push {
	real := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range p.members {
		rec := m.rec
		rec.inflight--
		switch {
		case ok:
			rec.acked = max(rec.acked, m.level)
			rec.failures = 0
		case rec.level == m.level && rec.acked < m.level:
			// Still the newest push for this waybill: try again later with the traces then due.
			rec.failures++
			rec.retryAt = real.Add(s.backoff(rec.failures))
		}
	}
	return s.releaseHeld(p)
}

// backoff returns the wait before retry number n: 200ms doubling to 2s, ±20% jitter.
func (s *Server) backoff(n int) time.Duration {
	d := maxBackoff
	if n < 5 {
		d = min(minBackoff<<(n-1), maxBackoff)
	}
	j := 0.8 + 0.4*s.dice.Float64()
	return time.Duration(float64(d) * j)
}

// deliver POSTs p with its faults and reports whether the receiver acknowledged it.
func (r *runner) deliver(p *push) bool {
	s := r.s
	form, err := s.pushForm(p)
	if err != nil {
		return false // unreachable: a TracePush always encodes
	}
	if p.released {
		s.pushesReordered.Add(1)
	}
	if p.badSign {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("DataSign", s.corruptSign(form.Get("RequestData")))
		s.pushesBadSigned.Add(1)
		if r.post(bad) {
			s.pushesBadSignAccepted.Add(1)
		}
	}
	if !p.duplicate {
		return r.postCounted(form)
	}
	s.pushesDuplicated.Add(1)
	if !p.concurrent {
		first := r.postCounted(form)
		return r.postCounted(form) || first
	}
	var wg sync.WaitGroup
	var first bool
	wg.Go(func() { first = r.postCounted(form) })
	second := r.postCounted(form)
	wg.Wait()
	return first || second
}

// pushForm builds the 101 form of p: each waybill with its traces up to its level, PushTime on
// the simulated clock of the most advanced of them.
func (s *Server) pushForm(p *push) (url.Values, error) {
	now := s.now()
	tp := kdniao.TracePush{EBusinessID: s.ebusinessID, Data: make([]kdniao.Trace, 0, len(p.members))}
	var pushTime time.Time
	for _, m := range p.members {
		t := s.trace(m.rec, m.level)
		tp.Data = append(tp.Data, t)
		// Several parcels travel together here; each child is reported under its own number.
		for _, c := range m.rec.children {
			t.LogisticCode = c
			tp.Data = append(tp.Data, t)
		}
		if t := s.simNow(m.rec, now); t.After(pushTime) {
			pushTime = t
		}
	}
	tp.PushTime = pushTime.In(s.loc).Format(kdniao.TimeLayout)
	return kdniao.EncodePush(tp, s.appKey)
}

// corruptSign returns a DataSign that a correct receiver rejects, made in one of the ways real
// integrations get it wrong.
func (s *Server) corruptSign(data string) string {
	n := s.dice.IntN(4)
	sum := md5.Sum([]byte(data + s.appKey))
	var bad string
	switch n {
	case 0: // another account's key
		bad = kdniao.Sign(data, s.appKey+"-other")
	case 1: // upper-case hex
		bad = base64.StdEncoding.EncodeToString([]byte(strings.ToUpper(hex.EncodeToString(sum[:]))))
	case 2: // the raw digest instead of its hex
		bad = base64.StdEncoding.EncodeToString(sum[:])
	default: // none at all
		bad = ""
	}
	if bad == kdniao.Sign(data, s.appKey) { // an all-digit digest has no case to change
		bad = ""
	}
	return bad
}

// postCounted POSTs a correctly signed push and counts the outcome.
func (r *runner) postCounted(form url.Values) bool {
	ok := r.post(form)
	if ok {
		r.s.pushesAcked.Add(1)
	} else {
		r.s.pushesFailed.Add(1)
	}
	return ok
}

// post sends one push and reports whether it was acknowledged: HTTP 200 and Success:true.
func (r *runner) post(form url.Values) bool {
	s := r.s
	s.pushesSent.Add(1)
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, s.pushTo, strings.NewReader(form.Encode()))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", formContentType)
	resp, err := s.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil || resp.StatusCode != http.StatusOK {
		return false
	}
	var reply struct {
		Success bool `json:"Success"`
	}
	return json.Unmarshal(body, &reply) == nil && reply.Success
}
