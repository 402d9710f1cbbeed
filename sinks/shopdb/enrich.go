package shopdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Order is an order as the enrichment query returns it, in canonical column names.
type Order struct {
	Code             string // order_code: the shop's order number, the carrier's idempotency key
	ReceiverName     string
	ReceiverMobile   string
	ReceiverPhone    string
	ReceiverProvince string
	ReceiverCity     string
	ReceiverDistrict string
	ReceiverAddress  string
	ReceiverPostcode string
	ReceiverCountry  string // as the shop stores it (ISO code or name); empty: domestic
	Remark           string
	WeightKg         float64
	VolumeM3         float64
	// Columns holds every column the query returned, by lower-case name, as text (routing
	// rules may test any of them; a query by :keys includes order_key).
	Columns map[string]string
}

// Item is one line of an order.
type Item struct {
	Name     string
	Quantity int
	WeightKg float64
	Price    float64
}

// DataError: the query ran but what it returned cannot be used (a missing column, a weight that
// is not a number). Reading again will not help: it is permanent.
type DataError struct{ err error }

func (e *DataError) Error() string   { return e.err.Error() }
func (e *DataError) Unwrap() error   { return e.err }
func (e *DataError) Permanent() bool { return true }

// OrderResult is one order read by Orders: the order, or the *DataError that makes its row
// unusable (Order is then zero).
type OrderResult struct {
	Order Order
	Err   error
}

// ItemsResult is one order's items read by ItemsOf: at least one item, or the *DataError that
// makes one of its rows unusable (Items is then nil).
type ItemsResult struct {
	Items []Item
	Err   error
}

// maxChunk is the most keys one statement of a query by :keys reads. The IN list is padded to
// a power of two up to it (a size class), so at most log2(maxChunk)+1 = 9 statements per query
// are ever prepared, whatever the batch sizes; a longer list runs as several statements.
const maxChunk = 256

// Order reads the order by key. found is false when the query returns no row: the order is not
// (or no longer) eligible. A row it cannot use is a *DataError. With a query by :keys it is
// Orders for one key.
func (d *DB) Order(ctx context.Context, key string) (o Order, found bool, err error) {
	res, err := d.Orders(ctx, []string{key})
	if err != nil {
		return Order{}, false, err
	}
	r, found := res[key]
	if !found || r.Err != nil {
		return Order{}, false, r.Err
	}
	return r.Order, true, nil
}

// Orders reads the orders of keys. A query by :keys runs once per chunk of up to maxChunk keys;
// a query by :key runs once per key, one after another (the ship stage already overlaps its
// batches, so fanning out here would multiply its share of the pool, which write-backs need
// too; :keys is the fast form). Each statement has shop.read_timeout. Duplicate keys are read
// once.
//
// A key whose query returns no row is absent from the map: not (or no longer) eligible. A row
// that cannot be used (weight_kg not a number, no order_code column) is that order's Err, a
// *DataError; the others are unaffected. With a query by :keys, rows whose order_key was not
// asked for are ignored, and a result without an order_key column is a *DataError for the
// whole call (the configuration must change). Any other error means a statement failed
// (database down, timeout, syntax) and nothing was read; the caller may read one by one.
func (d *DB) Orders(ctx context.Context, keys []string) (map[string]OrderResult, error) {
	rows, err := d.rowsByKey(ctx, d.query, keys, 1)
	if err != nil {
		return nil, err
	}
	res := make(map[string]OrderResult, len(rows))
	for k, vals := range rows {
		o, err := d.query.order(vals[0])
		res[k] = OrderResult{Order: o, Err: err}
	}
	return res, nil
}

// ReissueOrders reads orders for a reissue with orders.reissue_query (the order as orders.query
// reads it, without the not-yet-shipped conditions), or orders.query when none is configured.
func (d *DB) ReissueOrders(ctx context.Context, keys []string) (map[string]OrderResult, error) {
	q := d.query
	if d.reissueQuery != nil {
		q = d.reissueQuery
	}
	rows, err := d.rowsByKey(ctx, q, keys, 1)
	if err != nil {
		return nil, err
	}
	res := make(map[string]OrderResult, len(rows))
	for k, vals := range rows {
		o, err := q.order(vals[0])
		res[k] = OrderResult{Order: o, Err: err}
	}
	return res, nil
}

// HasItemsQuery reports whether orders.items_query is configured.
func (d *DB) HasItemsQuery() bool { return d.items != nil }

// Items reads the order's items; none when no items query is configured or the order has no
// items yet. A row it cannot use is a *DataError. With a query by :keys it is ItemsOf for one
// key.
func (d *DB) Items(ctx context.Context, key string) ([]Item, error) {
	res, err := d.ItemsOf(ctx, []string{key})
	if err != nil {
		return nil, err
	}
	r := res[key]
	return r.Items, r.Err
}

// ItemsOf reads the items of the orders of keys, with the statements Orders would run; nil
// when no items query is configured. A key with no item rows is absent (the order is not
// ready: its items may not be written yet). An unusable row is that order's Err, a
// *DataError; the error returned means what it means for Orders.
func (d *DB) ItemsOf(ctx context.Context, keys []string) (map[string]ItemsResult, error) {
	if d.items == nil {
		return nil, nil
	}
	rows, err := d.rowsByKey(ctx, d.items, keys, 0)
	if err != nil {
		return nil, err
	}
	res := make(map[string]ItemsResult, len(rows))
	for k, vals := range rows {
		items, err := d.items.itemsOf(vals)
		res[k] = ItemsResult{Items: items, Err: err}
	}
	return res, nil
}

// enrichment is orders.query or orders.items_query. A query by :key runs its one statement once
// per order. A query by :keys runs once per chunk of keys, its IN list padded to a size class
// (see sizeClass) by repeating the chunk's last key, which changes no result; each class is
// prepared on first use and kept until Close. Safe for concurrent use.
type enrichment struct {
	name   string
	source Template // as compiled, :keys a single placeholder
	byKeys bool
	db     *sql.DB

	mu     sync.Mutex
	stmts  map[int]*prepared // by size class; class 1 is prepared by Open, and is the :key form's only one
	closed bool
}

// newEnrichment wraps p, the configured query as Open prepared it (for a query by :keys, that
// is its statement for one key: "IN (?)").
func newEnrichment(db *sql.DB, p *prepared) (*enrichment, error) {
	e := &enrichment{name: p.name, source: p.t, db: db, stmts: map[int]*prepared{1: p}}
	if slices.Contains(p.t.Params, "keys") {
		if slices.Contains(p.t.Params, "key") {
			p.stmt.Close()
			return nil, fmt.Errorf("%s uses both :key and :keys: read by :keys alone (rows named by an order_key column) or by :key alone", p.name)
		}
		e.byKeys = true
		p.t = p.t.Expand("keys", 1)
	}
	return e, nil
}

// stmt returns the statement for a size class, preparing it on first use. Two callers may
// prepare the same class at once: the second statement is closed and the first one kept, so
// the lock is never held across a round trip.
func (e *enrichment) stmt(ctx context.Context, class int) (*prepared, error) {
	e.mu.Lock()
	p, closed := e.stmts[class], e.closed
	e.mu.Unlock()
	if p != nil {
		return p, nil
	}
	if closed {
		return nil, fmt.Errorf("%s: closed", e.name)
	}
	p = &prepared{name: e.name, t: e.source.Expand("keys", class)}
	st, err := e.db.PrepareContext(ctx, p.t.SQL)
	if err != nil {
		return nil, fmt.Errorf("prepare %s for %d keys: %w", e.name, class, timedOut(ctx, err))
	}
	p.stmt = st
	e.mu.Lock()
	defer e.mu.Unlock()
	if won, closed := e.stmts[class], e.closed; won != nil || closed {
		st.Close()
		if won == nil {
			return nil, fmt.Errorf("%s: closed", e.name)
		}
		return won, nil
	}
	e.stmts[class] = p
	return p, nil
}

func (e *enrichment) close() {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.stmts {
		p.stmt.Close()
	}
	e.stmts, e.closed = nil, true
}

// rowsByKey runs e for keys and returns each key's rows, at most perKey of them (0: all), in the
// order the server sent them. A key without rows is absent.
func (d *DB) rowsByKey(ctx context.Context, e *enrichment, keys []string, perKey int) (map[string][]map[string]string, error) {
	keys = distinct(keys)
	out := make(map[string][]map[string]string, len(keys))
	if !e.byKeys {
		for _, k := range keys {
			_, vals, err := d.read(ctx, e, 1, map[string]any{"key": k}, k, perKey)
			if err != nil {
				return nil, err
			}
			if len(vals) > 0 {
				out[k] = vals
			}
		}
		return out, nil
	}
	for start := 0; start < len(keys); start += maxChunk {
		chunk := keys[start:min(start+maxChunk, len(keys))]
		list := padded(chunk)
		about := chunk[0]
		if len(chunk) > 1 {
			about = fmt.Sprintf("%s and %d more", chunk[0], len(chunk)-1)
		}
		cols, vals, err := d.read(ctx, e, len(list), map[string]any{"keys": list}, about, 0)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(cols, "order_key") {
			return nil, &DataError{fmt.Errorf("%s reads by :keys but returns no order_key column: "+
				"name each row's order by its key, e.g. add o.order_id AS order_key", e.name)}
		}
		asked := make(map[string]bool, len(chunk))
		for _, k := range chunk {
			asked[k] = true
		}
		for _, v := range vals {
			k := v["order_key"]
			if asked[k] && (perKey == 0 || len(out[k]) < perKey) {
				out[k] = append(out[k], v)
			}
		}
	}
	return out, nil
}

// read runs e's statement of a size class with values and returns the result's column names
// (lower case) and up to limit rows (0: all); about names the orders in errors. Preparing the
// class on first use counts against the same shop.read_timeout.
func (d *DB) read(ctx context.Context, e *enrichment, class int, values map[string]any, about string, limit int) ([]string, []map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.readTO)
	defer cancel()
	p, err := e.stmt(ctx, class)
	if err != nil {
		return nil, nil, err
	}
	args, err := p.t.Args(values)
	if err != nil {
		return nil, nil, fmt.Errorf("%s for %s: %w", p.name, about, err)
	}
	rows, err := p.stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s for %s: %w", p.name, about, timedOut(ctx, err))
	}
	defer rows.Close()
	cols, vals, err := scanMaps(rows, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("%s for %s: %w", p.name, about, timedOut(ctx, err))
	}
	return cols, vals, nil
}

// sizeClass is the IN-list length a chunk of n keys (1 <= n <= maxChunk) is padded to: the
// smallest power of two >= n.
func sizeClass(n int) int {
	c := 1
	for c < n {
		c *= 2
	}
	return c
}

// padded is chunk, its last key repeated up to its size class: a key twice in an IN list
// matches its rows once.
func padded(chunk []string) []string {
	list := make([]string, sizeClass(len(chunk)))
	n := copy(list, chunk)
	for i := n; i < len(list); i++ {
		list[i] = chunk[n-1]
	}
	return list
}

// distinct is keys without repeats, in first-seen order (a key in two chunks would have its
// rows twice).
func distinct(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// order converts one row of orders.query.
func (e *enrichment) order(v map[string]string) (Order, error) {
	code, ok := v["order_code"]
	if !ok {
		return Order{}, &DataError{fmt.Errorf("%s returns no order_code column", e.name)}
	}
	o := Order{
		Code: code, ReceiverName: v["receiver_name"], ReceiverMobile: v["receiver_mobile"],
		ReceiverPhone: v["receiver_phone"], ReceiverProvince: v["receiver_province"],
		ReceiverCity: v["receiver_city"], ReceiverDistrict: v["receiver_district"],
		ReceiverAddress: v["receiver_address"], ReceiverPostcode: v["receiver_postcode"], ReceiverCountry: v["receiver_country"], Remark: v["remark"],
		Columns: v,
	}
	var err error
	if o.WeightKg, err = parseFloat(v["weight_kg"]); err != nil {
		return Order{}, &DataError{fmt.Errorf("%s weight_kg: %w", e.name, err)}
	}
	if o.VolumeM3, err = parseFloat(v["volume_m3"]); err != nil {
		return Order{}, &DataError{fmt.Errorf("%s volume_m3: %w", e.name, err)}
	}
	return o, nil
}

// itemsOf converts one order's rows of orders.items_query; one unusable row fails them all, so
// an order never ships with part of its items.
func (e *enrichment) itemsOf(vals []map[string]string) ([]Item, error) {
	items := make([]Item, 0, len(vals))
	for _, v := range vals {
		it := Item{Name: v["name"], Quantity: 1}
		if q := v["quantity"]; q != "" {
			f, err := strconv.ParseFloat(q, 64)
			if err != nil {
				return nil, &DataError{fmt.Errorf("%s quantity %q: %w", e.name, q, err)}
			}
			it.Quantity = int(f)
		}
		var err error
		if it.WeightKg, err = parseFloat(v["weight_kg"]); err != nil {
			return nil, &DataError{fmt.Errorf("%s weight_kg: %w", e.name, err)}
		}
		if it.Price, err = parseFloat(v["price"]); err != nil {
			return nil, &DataError{fmt.Errorf("%s price: %w", e.name, err)}
		}
		items = append(items, it)
	}
	return items, nil
}

// scanMaps reads up to limit rows (0: all) as column name -> text; NULL reads as "". Column
// names are lower case.
func scanMaps(rows *sql.Rows, limit int) ([]string, []map[string]string, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	for i, c := range cols {
		cols[i] = strings.ToLower(c)
	}
	var out []map[string]string
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[c] = vals[i].String
		}
		out = append(out, m)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return cols, out, rows.Err()
}

func parseFloat(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseFloat(s, 64)
}

// CanonicalOrderColumns are the column names orders.query may return with a meaning to
// shipsync (any other column is kept for routing rules).
var CanonicalOrderColumns = []string{"order_key", "order_code", "receiver_name", "receiver_mobile", "receiver_phone",
	"receiver_country", "receiver_province", "receiver_city", "receiver_district", "receiver_address",
	"receiver_postcode", "remark", "weight_kg", "volume_m3"}

// CanonicalItemColumns are those of orders.items_query.
var CanonicalItemColumns = []string{"order_key", "name", "quantity", "weight_kg", "price"}

// ResultColumns runs orders.query and orders.items_query (when set) for a key no order has and
// returns the column names each returns, lower case, for `shipsync check`.
func (d *DB) ResultColumns(ctx context.Context) (orders, items []string, err error) {
	const nobody = "\x00shipsync-check"
	cols := func(e *enrichment) ([]string, error) {
		if e == nil {
			return nil, nil
		}
		values := map[string]any{"key": nobody}
		if e.byKeys {
			values = map[string]any{"keys": []string{nobody}}
		}
		c, _, err := d.read(ctx, e, 1, values, "a key no order has", 1)
		return c, err
	}
	if orders, err = cols(d.query); err != nil {
		return nil, nil, err
	}
	items, err = cols(d.items)
	return orders, items, err
}
