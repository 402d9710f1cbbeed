package state

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultLabelKeep is how long labels are kept when the store is given no other (labels.keep).
const DefaultLabelKeep = 30 * 24 * time.Hour

// WithLabelKeep sets how long a label is kept after its waybill was created.
func WithLabelKeep(d time.Duration) Option {
	return func(s *Store) { s.labelKeep = d }
}

// Label is one parcel's print template (DESIGN.md §2 "Labels"). Parcel is 0 for the order's
// main waybill and 1.. for its children, of Parcels in all.
type Label struct {
	Waybill, Order, OrderCode, Carrier string
	Parcel, Parcels                    int
	PaidAt, CreatedAt, PrintedAt       time.Time
	HTML                               []byte
}

func (s *Store) labelKey(waybill string) string { return s.prefix + "label:" + waybill }
func (s *Store) labelsKey() string              { return s.prefix + "labels" }
func (s *Store) unprintedKey() string           { return s.prefix + "labels:unprinted" }
func (s *Store) labelBatchesKey() string        { return s.prefix + "labels:batches" }

// putLabelScript stores a label unless its waybill has one already, so a replay of a create
// (106 answers the same label) never puts a printed label back among the unprinted. KEYS:
// label, all labels, unprinted. ARGV: waybill, created ms, keep ms, then field/value pairs.
var putLabelScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1
`)

// labelsOf gathers the labels of a batch of waybill records.
func (s *Store) labelsOf(ws []WaybillRecord) []Label {
	var out []Label
	for _, w := range ws {
		out = append(out, w.Labels...)
	}
	return out
}

// putLabels queues the labels' writes on p (RecordWaybills' round trip). A label that cannot
// be compressed is left out: the waybill matters more than its label, which a reprint from the
// carrier's console can replace.
func (s *Store) putLabels(ctx context.Context, p redis.Pipeliner, labels []Label) {
	for _, l := range labels {
		z, err := compress(l.HTML)
		if err != nil {
			continue
		}
		created := l.CreatedAt
		if created.IsZero() {
			created = time.Now()
		}
		args := []any{l.Waybill, created.UnixMilli(), s.labelKeep.Milliseconds(),
			"html", z, "order", l.Order, "order_code", l.OrderCode, "carrier", l.Carrier,
			"parcel", l.Parcel, "parcels", l.Parcels, "paid_at", l.PaidAt.UnixMilli(), "created_at", created.UnixMilli()}
		putLabelScript.Eval(ctx, p, []string{s.labelKey(l.Waybill), s.labelsKey(), s.unprintedKey()}, args...)
	}
}

func compress(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decompress(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

// LabelQuery selects labels: those created since Since, only the unprinted ones, those of the
// given orders (order codes or keys), or the given waybills. Without HTML only the labels' data is read.
type LabelQuery struct {
	Since     time.Time
	Unprinted bool
	Orders    []string
	Waybills  []string // only these (a printed batch)
	HTML      bool
}

// Labels returns the labels q selects, in print order: by carrier, then paid time, then the
// order's parcels in turn. Labels past labels.keep are dropped from the lists on the way.
func (s *Store) Labels(ctx context.Context, q LabelQuery) ([]Label, error) {
	if s.labelKeep > 0 {
		old := strconv.FormatInt(time.Now().Add(-s.labelKeep).UnixMilli(), 10)
		s.rdb.ZRemRangeByScore(ctx, s.labelsKey(), "-inf", "("+old)
		s.rdb.ZRemRangeByScore(ctx, s.unprintedKey(), "-inf", "("+old)
	}
	list := s.labelsKey()
	if q.Unprinted {
		list = s.unprintedKey()
	}
	min := "-inf"
	if !q.Since.IsZero() {
		min = strconv.FormatInt(q.Since.UnixMilli(), 10)
	}
	waybills, err := s.rdb.ZRangeByScore(ctx, list, &redis.ZRangeBy{Min: min, Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("list labels: %w", err)
	}
	fields := []string{"order", "order_code", "carrier", "parcel", "parcels", "paid_at", "created_at", "printed_at"}
	if q.HTML {
		fields = append(fields, "html")
	}
	cmds := make([]*redis.SliceCmd, len(waybills))
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, w := range waybills {
			cmds[i] = p.HMGet(ctx, s.labelKey(w), fields...)
		}
		return nil
	})
	var out []Label
	for i, c := range cmds {
		v, err := c.Result()
		if err != nil {
			return nil, fmt.Errorf("read label %s: %w", waybills[i], err)
		}
		str := func(j int) string { x, _ := v[j].(string); return x }
		if str(0) == "" {
			continue // expired meanwhile
		}
		l := Label{Waybill: waybills[i], Order: str(0), OrderCode: str(1), Carrier: str(2)}
		l.Parcel, _ = strconv.Atoi(str(3))
		l.Parcels, _ = strconv.Atoi(str(4))
		l.PaidAt, l.CreatedAt, l.PrintedAt = msTime(str(5)), msTime(str(6)), msTime(str(7))
		if len(q.Orders) > 0 && !slices.Contains(q.Orders, l.Order) && !slices.Contains(q.Orders, l.OrderCode) {
			continue
		}
		if len(q.Waybills) > 0 && !slices.Contains(q.Waybills, l.Waybill) {
			continue
		}
		if q.HTML {
			if l.HTML, err = decompress([]byte(str(8))); err != nil {
				return nil, fmt.Errorf("label %s unreadable: %w", l.Waybill, err)
			}
		}
		out = append(out, l)
	}
	slices.SortStableFunc(out, func(a, b Label) int {
		if c := strings.Compare(a.Carrier, b.Carrier); c != 0 {
			return c
		}
		if c := a.PaidAt.Compare(b.PaidAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.OrderCode, b.OrderCode); c != 0 {
			return c
		}
		return a.Parcel - b.Parcel
	})
	return out, nil
}

// LabelBatch is one printed batch: when, how many labels, and which.
type LabelBatch struct {
	ID       string
	At       time.Time
	Waybills []string
}

// MarkPrinted records a batch of printed labels: each is marked printed (a reprint is
// allowed, and never creates anything) and leaves the unprinted list; the batch is listed for
// the status page.
func (s *Store) MarkPrinted(ctx context.Context, b LabelBatch) error {
	at := b.At.UnixMilli()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range b.Waybills {
			markPrintedScript.Eval(ctx, p, []string{s.labelKey(w), s.unprintedKey()}, w, at)
		}
		p.ZAdd(ctx, s.labelBatchesKey(), redis.Z{Score: float64(at), Member: b.ID + "|" + strings.Join(b.Waybills, ",")})
		if s.labelKeep > 0 {
			p.ZRemRangeByScore(ctx, s.labelBatchesKey(), "-inf", "("+strconv.FormatInt(at-s.labelKeep.Milliseconds(), 10))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark labels printed: %w", err)
	}
	return nil
}

// markPrintedScript marks one label printed, unless it expired meanwhile (a hash made by HSET
// alone would never expire). KEYS: label, unprinted. ARGV: waybill, printed ms.
var markPrintedScript = redis.NewScript(`
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'printed_at', ARGV[2]) end
return 1
`)

// LabelBatches returns the batches printed since, oldest first.
func (s *Store) LabelBatches(ctx context.Context, since time.Time) ([]LabelBatch, error) {
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.labelBatchesKey(),
		&redis.ZRangeBy{Min: strconv.FormatInt(since.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("list label batches: %w", err)
	}
	out := make([]LabelBatch, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		id, list, _ := strings.Cut(m, "|")
		b := LabelBatch{ID: id, At: time.UnixMilli(int64(z.Score))}
		if list != "" {
			b.Waybills = strings.Split(list, ",")
		}
		out = append(out, b)
	}
	return out, nil
}

// UnprintedLabels counts the labels not printed yet.
func (s *Store) UnprintedLabels(ctx context.Context) (int64, error) {
	return s.rdb.ZCard(ctx, s.unprintedKey()).Result()
}

// DiscardLabels forgets the labels of waybills that will never ship (cancelled, replaced by a
// reissue): they leave the lists, so no batch prints them, and their documents go.
func (s *Store) DiscardLabels(ctx context.Context, waybills ...string) error {
	if len(waybills) == 0 {
		return nil
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range waybills {
			p.ZRem(ctx, s.labelsKey(), w)
			p.ZRem(ctx, s.unprintedKey(), w)
			p.Del(ctx, s.labelKey(w))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("discard labels: %w", err)
	}
	return nil
}

// LabelsKept reports, for each waybill, whether its label is kept.
func (s *Store) LabelsKept(ctx context.Context, waybills []string) ([]bool, error) {
	cmds := make([]*redis.IntCmd, len(waybills))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, w := range waybills {
			cmds[i] = p.Exists(ctx, s.labelKey(w))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up labels: %w", err)
	}
	out := make([]bool, len(waybills))
	for i, c := range cmds {
		out[i] = c.Val() == 1
	}
	return out, nil
}
