package carrier

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/limit"
)

// Client creates waybills. Create blocks until the carrier answers, its timeout passes or ctx is
// done, and is safe for concurrent use. A repeated Create for the same order code must return
// the same waybill (Kdniao answers 106). An error whose Permanent() is true will not succeed on
// retry; any other error may; MaybeCreated() says whether a waybill may exist after it.
type Client interface {
	Create(ctx context.Context, s Shipment) (Waybill, error)
}

// Tracker asks a carrier where a parcel is (Kdniao 1002), for carriers without push and for
// waybills whose pushes went silent. It blocks until the carrier answers; safe for concurrent
// use; ErrNoTrace means the carrier has nothing yet, other errors are worth trying again.
type Tracker interface {
	Track(ctx context.Context, shipperCode, waybill, orderCode string) (webhook.Update, error)
}

// Shipment is what a carrier needs to know about an order.
type Shipment struct {
	OrderCode string
	Sender    config.Address
	Receiver  config.Address
	Items     []shopdb.Item
	WeightKg  float64
	VolumeM3  float64
	Remark    string
	// Parcels is how many parcels the order ships as (0 or 1: one); each gets its own waybill.
	Parcels int
	// Labels asks for the print templates, of TemplateSize when set (carriers.labels).
	Labels       bool
	TemplateSize string
}

// Canceller cancels a waybill (Kdniao 1147) before its parcel is picked up. It blocks like
// Create. A permanent error is the carrier's refusal (picked up already, unknown waybill);
// others may be repeated: cancelling twice cancels once.
type Canceller interface {
	Cancel(ctx context.Context, shipperCode, orderCode, waybill string) error
}

// Waybill is a carrier's answer.
type Waybill struct {
	Number     string
	PickupTime time.Time
	Repeat     bool // the carrier had created it before (a retry after an ambiguous failure)
	// Children are the other parcels' waybills (Shipment.Parcels > 1), in order.
	Children []string
	// Labels are the print templates when Shipment.Labels asked for them: the parent's first,
	// then each child's; HTML documents.
	Labels []string
}

// Observer records one call: the carrier, the operation (create, track), its outcome (success,
// repeat, permanent, transient) and how long it took.
type Observer func(carrier, op, outcome string, d time.Duration)

// Carrier is one configured carrier: its client behind its protections. It is safe for
// concurrent use; a reload replaces it whole (see Set).
type Carrier struct {
	Name        string
	ShipperCode string
	Config      config.Carrier

	client  Client
	br      *breaker
	rate    *rateLimit
	limit   *limit.Limit
	observe Observer
	opened  func(carrier string, open bool) // the breaker's state after each call
	paused  atomic.Bool
}

// Pause stops (or, false, resumes) AdmitNew: an operator sends new orders elsewhere.
func (c *Carrier) Pause(paused bool) { c.paused.Store(paused) }

// Paused reports whether an operator paused the carrier.
func (c *Carrier) Paused() bool { return c.paused.Load() }

// AdmitNew is Admit for a create of a new order: a paused carrier refuses it with CircuitOpen
// (Paused set), so the order fails over as it would from an open circuit. An order pinned to
// the carrier waits for it the same way.
func (c *Carrier) AdmitNew() (*Call, error) {
	if c.paused.Load() {
		return nil, CircuitOpen{Carrier: c.Name, Paused: true}
	}
	return c.Admit()
}

// New puts client behind the protections cfg configures. observe and opened may be nil.
func New(cfg config.Carrier, client Client, observe Observer, opened func(string, bool)) *Carrier {
	lim := limit.New(limit.Config{Max: cfg.MaxInFlight.Max()})
	if n, auto := cfg.MaxInFlight.Fixed(); !auto {
		lim = limit.Fixed(n)
	}
	if observe == nil {
		observe = func(string, string, string, time.Duration) {}
	}
	if opened == nil {
		opened = func(string, bool) {}
	}
	return &Carrier{Name: cfg.Name, ShipperCode: cfg.ShipperCode, Config: cfg, client: client,
		br:    &breaker{failures: cfg.Breaker.Failures, cooldown: cfg.Breaker.Cooldown},
		rate:  newRateLimit(cfg.RateLimit),
		limit: lim, observe: observe, opened: opened}
}

// Client is the carrier's client, unprotected (for its push decoder and tests).
func (c *Carrier) Client() Client { return c.client }

// Cooldown is how long an open circuit stays open before it lets a probe through.
func (c *Carrier) Cooldown() time.Duration { return c.br.cooldown }

// InFlightLimit is the bound on calls at once now (it moves under max_in_flight: auto).
func (c *Carrier) InFlightLimit() int { return c.limit.Current() }

// Decoder is the carrier's push format, when its type has one.
func (c *Carrier) Decoder() (webhook.Decoder, bool) {
	d, ok := c.client.(webhook.Decoder)
	return d, ok
}

// Tracks reports whether the carrier answers trace queries.
func (c *Carrier) Tracks() bool {
	_, ok := c.client.(Tracker)
	return ok
}

// Admit asks the circuit breaker for one call. It returns CircuitOpen when the breaker refuses
// (certainly nothing is created). An admitted call must be made (Create, Track) or given back
// (Abandon), exactly once.
func (c *Carrier) Admit() (*Call, error) {
	if !c.br.allow(time.Now()) {
		return nil, CircuitOpen{Carrier: c.Name}
	}
	return &Call{c: c}, nil
}

// Call is one call the breaker admitted.
type Call struct {
	c    *Carrier
	done bool
}

// Abandon gives back an admission that made no call (the caller could not mark the order as
// submitting, say).
func (a *Call) Abandon() {
	if !a.done {
		a.done = true
		a.c.br.release()
	}
}

// Create asks the carrier for the waybill, spaced by its rate limit and bounded by its
// in-flight limit. It returns NotCalled when ctx ended before the carrier was asked.
func (a *Call) Create(ctx context.Context, s Shipment) (Waybill, error) {
	var wb Waybill
	err := a.do(ctx, "create", func(ctx context.Context) error {
		var err error
		wb, err = a.c.client.Create(ctx, s)
		return err
	}, func(err error) string { return outcome(err, wb.Repeat) })
	return wb, err
}

// Cancels reports whether the carrier cancels waybills.
func (c *Carrier) Cancels() bool {
	_, ok := c.client.(Canceller)
	return ok
}

// Cancel asks the carrier to cancel a waybill, the same way creates go.
func (a *Call) Cancel(ctx context.Context, shipperCode, orderCode, waybill string) error {
	cl, ok := a.c.client.(Canceller)
	if !ok {
		a.Abandon()
		return &Permanent{Reason: fmt.Sprintf("carrier %s cannot cancel waybills", a.c.Name)}
	}
	return a.do(ctx, "cancel", func(ctx context.Context) error {
		return cl.Cancel(ctx, shipperCode, orderCode, waybill)
	}, func(err error) string { return outcome(err, false) })
}

// Track asks the carrier about a waybill, the same way creates go. It returns ErrNoTrace when
// the carrier answers but has nothing yet, and an error when the type cannot be asked.
func (a *Call) Track(ctx context.Context, shipperCode, waybill, orderCode string) (webhook.Update, error) {
	tr, ok := a.c.client.(Tracker)
	if !ok {
		a.Abandon()
		return webhook.Update{}, NotCalled{fmt.Errorf("carrier %s answers no trace queries", a.c.Name)}
	}
	var u webhook.Update
	err := a.do(ctx, "track", func(ctx context.Context) error {
		var err error
		u, err = tr.Track(ctx, shipperCode, waybill, orderCode)
		return err
	}, func(err error) string { return outcome(err, false) })
	return u, err
}

// do makes the call the way every call to the carrier goes. Its result feeds the breaker
// (success, a permanent refusal of this one request and "no trace yet" say the carrier is
// healthy; anything else counts against it) and the in-flight limit (a transient failure is a
// sign of overload; a permanent refusal says nothing about load).
func (a *Call) do(ctx context.Context, op string, call func(context.Context) error, label func(error) string) error {
	if a.done {
		return NotCalled{errors.New("call already made")}
	}
	a.done = true
	c := a.c
	if err := c.rate.wait(ctx); err != nil {
		c.br.release()
		return NotCalled{err}
	}
	release, err := c.limit.Acquire(ctx)
	if err != nil {
		c.br.release()
		return NotCalled{err}
	}
	start := time.Now()
	err = call(ctx)
	rtt := time.Since(start)
	healthy := err == nil || IsPermanent(err) || errors.Is(err, ErrNoTrace)
	switch {
	case err == nil || errors.Is(err, ErrNoTrace):
		release(rtt, limit.Success)
	case healthy:
		release(rtt, limit.Ignore)
	default:
		release(rtt, limit.Dropped)
	}
	c.br.done(healthy, time.Now())
	c.opened(c.Name, c.br.open())
	c.observe(c.Name, op, label(err), rtt)
	return err
}

// outcome labels a carrier call: success, repeat (106: created before), permanent or transient.
func outcome(err error, repeat bool) string {
	switch {
	case err == nil && repeat:
		return "repeat"
	case err == nil, errors.Is(err, ErrNoTrace):
		return "success"
	case IsPermanent(err):
		return "permanent"
	}
	return "transient"
}

// Set is the configured carriers by name. It is never changed once built: a reload builds a
// new one.
type Set map[string]*Carrier
