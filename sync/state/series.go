package state

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The console's history is kept at two resolutions, each step one small hash that expires by
// itself: Redis holds at most an hour of 10 s steps and a day of 5 min steps, whatever runs.
// Every process adds its own counts to the step (several workers' shipped orders add up) and
// raises its gauges to the highest value seen in it.
var (
	// Fine is the last hour at 10 s; Coarse the last day at 5 min.
	Fine   = Resolution{Name: "10s", Step: 10 * time.Second, Keep: time.Hour}
	Coarse = Resolution{Name: "5m", Step: 5 * time.Minute, Keep: 24 * time.Hour}
)

// Resolution is one of the history's step sizes and how long its steps are kept.
type Resolution struct {
	Name string
	Step time.Duration
	Keep time.Duration
}

// LatencyBuckets are the upper bounds (seconds) of the carrier response times a Sample counts;
// a last, unbounded bucket follows them.
var LatencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Sample is what one process saw since its previous sample.
type Sample struct {
	At      time.Time
	Shipped int64 // orders written back
	// Gauges; a negative one was not measured by this process (a worker reads no binlog).
	LagSeconds           float64
	Backlog, Dead, Retry int64
	Carriers             map[string]CarrierSample
	// Latest are the orders written back since the previous sample, oldest first: they join
	// the deployment's list of the latest orders (LatestOrders).
	Latest []string
}

// LatestMax is how many of the latest orders the deployment keeps.
const LatestMax = 20

func (s *Store) latestKey() string { return s.prefix + "latest" }

// CarrierSample counts one carrier's creates: how many, how many succeeded, and their
// response times by LatencyBuckets (len(LatencyBuckets)+1 counts).
type CarrierSample struct {
	Requests, OK int64
	Buckets      []int64
}

// SeriesPoint is one step of the history.
type SeriesPoint struct {
	At                   time.Time
	Shipped              int64
	LagSeconds           float64
	Backlog, Dead, Retry int64
	Carriers             map[string]CarrierSample
}

func (s *Store) seriesKey(r Resolution, at time.Time) string {
	return s.prefix + "series:" + r.Name + ":" + strconv.FormatInt(at.UnixMilli()/r.Step.Milliseconds(), 10)
}

// addSampleScript adds a sample to one step of each resolution. KEYS: the steps' hashes.
// ARGV: each key's TTL (ms, in KEYS' order), then (op, field, value) triples, op 'i' adding
// the value and 'm' raising the field to it.
var addSampleScript = redis.NewScript(`
local n = #KEYS
for k = 1, n do
  for i = n + 1, #ARGV, 3 do
    local op, f, v = ARGV[i], ARGV[i+1], ARGV[i+2]
    if op == 'i' then redis.call('HINCRBY', KEYS[k], f, v)
    else
      local cur = redis.call('HGET', KEYS[k], f)
      if not cur or tonumber(v) > tonumber(cur) then redis.call('HSET', KEYS[k], f, v) end
    end
  end
  redis.call('PEXPIRE', KEYS[k], ARGV[k])
end
return 1
`)

// AddSample adds what a process saw to the history's current steps, in one round trip.
func (s *Store) AddSample(ctx context.Context, x Sample) error {
	args := []any{}
	keys := []string{}
	for _, r := range []Resolution{Fine, Coarse} {
		keys = append(keys, s.seriesKey(r, x.At))
		args = append(args, (r.Keep + r.Step).Milliseconds())
	}
	add := func(op, field string, v int64) { args = append(args, op, field, v) }
	if x.Shipped > 0 {
		add("i", "shipped", x.Shipped)
	}
	if x.LagSeconds >= 0 {
		add("m", "lag_ms", int64(x.LagSeconds*1000))
	}
	for _, g := range []struct {
		name string
		v    int64
	}{{"backlog", x.Backlog}, {"dead", x.Dead}, {"retry", x.Retry}} {
		if g.v >= 0 {
			add("m", g.name, g.v)
		}
	}
	for name, c := range x.Carriers {
		if c.Requests == 0 {
			continue
		}
		add("i", "c:"+name+":n", c.Requests)
		add("i", "c:"+name+":ok", c.OK)
		for i, b := range c.Buckets {
			if b > 0 {
				add("i", "c:"+name+":b"+strconv.Itoa(i), b)
			}
		}
	}
	var cmd *redis.Cmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cmd = addSampleScript.Eval(ctx, p, keys, args...)
		if len(x.Latest) > 0 {
			latest := make([]any, len(x.Latest))
			for i, k := range x.Latest {
				latest[i] = k
			}
			p.LPush(ctx, s.latestKey(), latest...) // the newest ends first
			p.LTrim(ctx, s.latestKey(), 0, LatestMax-1)
		}
		return nil
	})
	if err == nil {
		err = cmd.Err()
	}
	if err != nil {
		return fmt.Errorf("record history sample: %w", err)
	}
	return nil
}

// LatestOrders returns the keys of the deployment's latest orders written back, newest first
// (at most LatestMax; a key may repeat when an order was written back again).
func (s *Store) LatestOrders(ctx context.Context) ([]string, error) {
	keys, err := s.rdb.LRange(ctx, s.latestKey(), 0, LatestMax-1).Result()
	if err != nil {
		return nil, fmt.Errorf("read the latest orders: %w", err)
	}
	return keys, nil
}

// Series returns the history at r from its oldest kept step to now's, oldest first; a step
// nobody sampled is absent.
func (s *Store) Series(ctx context.Context, r Resolution, now time.Time) ([]SeriesPoint, error) {
	return s.SeriesSince(ctx, r, now.Add(-r.Keep), now)
}

// SeriesSince is Series from the step that holds since on.
func (s *Store) SeriesSince(ctx context.Context, r Resolution, since, now time.Time) ([]SeriesPoint, error) {
	step := r.Step.Milliseconds()
	last := now.UnixMilli() / step
	first := max(since.UnixMilli()/step, last-r.Keep.Milliseconds()/step+1)
	if first > last {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, 0, last-first+1)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for b := first; b <= last; b++ {
			cmds = append(cmds, p.HGetAll(ctx, s.prefix+"series:"+r.Name+":"+strconv.FormatInt(b, 10)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	var out []SeriesPoint
	for i, c := range cmds {
		m := c.Val()
		if len(m) == 0 {
			continue
		}
		out = append(out, pointFrom(time.UnixMilli((first+int64(i))*step), m))
	}
	return out, nil
}

func pointFrom(at time.Time, m map[string]string) SeriesPoint {
	n := func(f string) int64 { v, _ := strconv.ParseInt(m[f], 10, 64); return v }
	p := SeriesPoint{At: at, Shipped: n("shipped"), LagSeconds: float64(n("lag_ms")) / 1000,
		Backlog: n("backlog"), Dead: n("dead"), Retry: n("retry")}
	names := map[string]bool{}
	for f := range m {
		if rest, ok := strings.CutPrefix(f, "c:"); ok {
			if i := strings.LastIndexByte(rest, ':'); i > 0 {
				names[rest[:i]] = true
			}
		}
	}
	if len(names) > 0 {
		p.Carriers = make(map[string]CarrierSample, len(names))
	}
	for name := range names {
		c := CarrierSample{Requests: n("c:" + name + ":n"), OK: n("c:" + name + ":ok"),
			Buckets: make([]int64, len(LatencyBuckets)+1)}
		for i := range c.Buckets {
			c.Buckets[i] = n("c:" + name + ":b" + strconv.Itoa(i))
		}
		p.Carriers[name] = c
	}
	return p
}

// Quantile estimates the q-quantile (0..1) of the response times counted in buckets, as
// Prometheus' histogram_quantile does: linear within the bucket it falls in; the unbounded
// bucket answers the highest bound. 0 when nothing was counted.
func Quantile(q float64, buckets []int64) float64 {
	var total int64
	for _, b := range buckets {
		total += b
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum int64
	for i, b := range buckets {
		if b == 0 || float64(cum+b) < rank {
			cum += b
			continue
		}
		if i >= len(LatencyBuckets) {
			return LatencyBuckets[len(LatencyBuckets)-1]
		}
		lo := 0.0
		if i > 0 {
			lo = LatencyBuckets[i-1]
		}
		return lo + (LatencyBuckets[i]-lo)*(rank-float64(cum))/float64(b)
	}
	return LatencyBuckets[len(LatencyBuckets)-1]
}
