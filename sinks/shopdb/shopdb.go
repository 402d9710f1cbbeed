package shopdb

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Config holds the SQL texts, as configured, with named parameters.
type Config struct {
	// Query reads orders in canonical column names: one row by :key, or the rows of an IN list
	// (:keys), each naming its order in an order_key column. ItemsQuery (optional) reads
	// items the same two ways.
	Query      string
	ItemsQuery string
	// ReissueQuery reads an order for a reissue, like Query without its not-yet-shipped
	// conditions (optional: Query).
	ReissueQuery  string
	BackfillQuery string // optional, keys of paid-but-unshipped orders
	// BackfillSince binds the backfill query's :since to now minus this, in unix seconds
	// (0: :since is 0, no bound).
	BackfillSince time.Duration
	// Waybill: the first statement is the guarded update; the rest run when it changed the row or
	// when the row already holds this waybill (completing a write cut short), so they must be
	// idempotent.
	Waybill        []string
	CurrentWaybill string // optional, the waybill already stored for :key
	// Reissue replaces a re-issued order's number: the first statement is guarded by the
	// number the row holds (:previous_waybills), the rest idempotent follow-ups. Optional.
	Reissue []string
	// Separator joins several parcels' numbers in :waybills (writeback.separator): a row that
	// holds them is recognised as ours. "," and "<br>" are always recognised.
	Separator string
	Status    map[string][]string // canonical status -> statements
	// ReadTimeout bounds each enrichment statement (one per order by :key, one per chunk of
	// keys by :keys), WriteTimeout each write-back transaction
	// (defaults 10 s and 30 s), so a connection that goes silent fails the call instead of
	// holding the caller until TCP gives up. In a pool made by Connect a connection whose
	// statement ran out of time is discarded, never handed to the next caller (see guarded).
	// Backfill has no deadline: it may scan the whole table.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
}

// DB runs the configured statements, each prepared once (an enrichment query by :keys once per
// size class of its IN list, see enrichment). It is safe for concurrent use.
type DB struct {
	db           *sql.DB
	query        *enrichment
	reissueQuery *enrichment
	items        *enrichment
	backfill     *prepared
	since        time.Duration
	waybill      []*prepared
	reissue      []*prepared
	sep          string
	current      *prepared
	status       map[string][]*prepared
	txOpts       *sql.TxOptions // write transactions: see writeTx
	readTO       time.Duration  // each enrichment statement
	writeTO      time.Duration  // each write-back transaction
}

type prepared struct {
	name string // where it came from, for errors
	t    Template
	stmt *sql.Stmt
}

// Open prepares every configured statement against db (a query by :keys, its statement for one
// key; longer lists are prepared on first use); the first one that does not prepare is
// reported with its name (orders.query, writeback.waybill[1], ...). With a pool made by Connect,
// write transactions save a round trip (see writeTx).
func Open(ctx context.Context, db *sql.DB, cfg Config) (*DB, error) {
	d := &DB{db: db, status: map[string][]*prepared{}, txOpts: writeTx, sep: cfg.Separator,
		readTO: cmp.Or(cfg.ReadTimeout, 10*time.Second), writeTO: cmp.Or(cfg.WriteTimeout, 30*time.Second)}
	if _, ok := readCommittedPools.Load(db); ok {
		d.txOpts = nil // the session already is
	}
	var err error
	prep := func(name, text string) *prepared {
		if err != nil || strings.TrimSpace(text) == "" {
			return nil
		}
		if BarePlaceholders(text) > 0 {
			err = fmt.Errorf("prepare %s: a bare ? placeholder: bind named parameters (:key, :waybill, ...)", name)
			return nil
		}
		p := &prepared{name: name, t: Compile(text)}
		p.stmt, err = db.PrepareContext(ctx, p.t.SQL)
		if err != nil {
			err = fmt.Errorf("prepare %s: %w", name, err)
			return nil
		}
		return p
	}
	enrich := func(name, text string) *enrichment {
		p := prep(name, text)
		if p == nil {
			return nil
		}
		var e *enrichment
		e, err = newEnrichment(db, p)
		return e
	}
	d.query = enrich("orders.query", cfg.Query)
	d.items = enrich("orders.items_query", cfg.ItemsQuery)
	d.reissueQuery = enrich("orders.reissue_query", cfg.ReissueQuery)
	d.backfill, d.since = prep("orders.backfill_query", cfg.BackfillQuery), cfg.BackfillSince
	for i, s := range cfg.Waybill {
		d.waybill = append(d.waybill, prep(fmt.Sprintf("writeback.waybill[%d]", i), s))
	}
	d.current = prep("writeback.current_waybill", cfg.CurrentWaybill)
	for i, s := range cfg.Reissue {
		d.reissue = append(d.reissue, prep(fmt.Sprintf("writeback.reissue[%d]", i), s))
	}
	for status, list := range cfg.Status {
		for i, s := range list {
			d.status[status] = append(d.status[status], prep(fmt.Sprintf("writeback.status.%s[%d]", status, i), s))
		}
	}
	if err == nil && d.query == nil {
		err = errors.New("orders.query is empty")
	}
	if err == nil && len(d.waybill) == 0 {
		err = errors.New("writeback.waybill is empty")
	}
	if err == nil && d.current == nil {
		// Without it a guard that changed nothing cannot tell a replay from a shop row holding
		// another number, and a conflict would be taken for our own write.
		err = errors.New("writeback.current_waybill is empty")
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close releases the prepared statements (not the *sql.DB).
func (d *DB) Close() error {
	d.query.close()
	d.items.close()
	d.reissueQuery.close()
	all := []*prepared{d.backfill, d.current}
	all = append(all, d.waybill...)
	all = append(all, d.reissue...)
	for _, l := range d.status {
		all = append(all, l...)
	}
	for _, p := range all {
		if p != nil && p.stmt != nil {
			p.stmt.Close()
		}
	}
	return nil
}

// Backfill returns the keys the backfill query selects (first column); none when unset.
func (d *DB) Backfill(ctx context.Context) ([]string, error) {
	if d.backfill == nil {
		return nil, nil
	}
	var since int64
	if d.since > 0 {
		since = time.Now().Add(-d.since).Unix()
	}
	rows, err := d.backfill.stmt.QueryContext(ctx, mustArgs(d.backfill, map[string]any{"since": since})...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.backfill.name, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k sql.NullString
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("%s: %w", d.backfill.name, err)
		}
		keys = append(keys, k.String)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", d.backfill.name, err)
	}
	return keys, nil
}

// Outcome says what a waybill write-back found.
type Outcome int

// Write-back outcomes.
const (
	// Written: the guarded statement changed the row; the rest ran in the same transaction.
	Written Outcome = iota + 1
	// AlreadyWritten: this very waybill is already there (a replay).
	AlreadyWritten
	// Conflict: another waybill is already there; nothing was changed.
	Conflict
	// Missing: the guard matched no row and no waybill is stored (the row is gone or the guard's
	// other conditions no longer hold); nothing was changed.
	Missing
)

func (o Outcome) String() string {
	return [...]string{"unknown", "written", "already_written", "conflict", "missing"}[o]
}

// WriteWaybill runs writeback.waybill with values (key, waybill, carrier, ...). It returns the
// waybill found in the shop when the outcome is Conflict. A transaction that loses a lock race
// (deadlock, lock wait timeout, InnoDB's auto-increment lock) is run again at once, a few times.
func (d *DB) WriteWaybill(ctx context.Context, values map[string]any) (outcome Outcome, existing string, err error) {
	err = d.retryLocks(ctx, func(ctx context.Context) error {
		outcome, existing, err = d.writeWaybill(ctx, values)
		return err
	})
	return outcome, existing, err
}

// writeTx is READ COMMITTED: InnoDB then reads the source of an INSERT ... SELECT (the ECShop
// note's NOT EXISTS) without gap locks, which under REPEATABLE READ deadlock against the
// table's AUTO-INC lock as soon as a few write-backs run at once. Each order is written by one
// worker at a time (the Redis claim), so nothing needs the stronger level. Connections made by
// Connect are READ COMMITTED from the start, which spares the SET TRANSACTION round trip the
// option costs on every write-back.
var writeTx = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

// lockErrors are the server errors that mean "another transaction was in the way; try again".
var lockErrors = map[uint16]bool{
	1205: true, // ER_LOCK_WAIT_TIMEOUT
	1213: true, // ER_LOCK_DEADLOCK
	1467: true, // ER_AUTOINC_READ_FAILED: INSERT ... SELECT deadlocked on the AUTO-INC lock
}

// serverCode digs the server's error code out of err; the driver wraps it with pingcap/errors,
// whose wrappers answer Cause() rather than Unwrap().
// StatementFailed reports whether err is the server refusing a statement (a data or constraint
// error, say), as opposed to the database being unreachable.
func StatementFailed(err error) bool {
	_, ok := serverCode(err)
	return ok
}

func serverCode(err error) (uint16, bool) {
	for err != nil {
		if me, ok := err.(*mysql.MyError); ok {
			return me.Code, true
		}
		if next := errors.Unwrap(err); next != nil {
			err = next
			continue
		}
		c, ok := err.(interface{ Cause() error })
		if !ok || c.Cause() == err {
			return 0, false
		}
		err = c.Cause()
	}
	return 0, false
}

// retryLocks runs the write transaction fn, each attempt under shop.write_timeout.
func (d *DB) retryLocks(ctx context.Context, fn func(context.Context) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = d.withinWrite(ctx, fn)
		if code, ok := serverCode(err); !ok || !lockErrors[code] {
			return err
		}
		t := time.NewTimer(time.Duration(10*(attempt+1)+rand.IntN(20)) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
	return err
}

// withinWrite runs fn with a deadline of shop.write_timeout.
func (d *DB) withinWrite(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d.writeTO)
	defer cancel()
	return timedOut(ctx, fn(ctx))
}

// timedOut says so when err came after ctx ended: the driver reports a statement it cut short
// only as a closed connection.
func timedOut(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, ctx.Err())
}

// WriteReissue replaces a re-issued order's number in the shop with writeback.reissue, the way
// WriteWaybill writes a first one: Written when the guard (the row still holds the previous
// numbers) took, AlreadyWritten when the row holds the new waybill, Conflict when it holds
// another number. HasReissue reports whether any statement is configured.
func (d *DB) WriteReissue(ctx context.Context, values map[string]any) (outcome Outcome, existing string, err error) {
	if len(d.reissue) == 0 {
		return 0, "", errors.New("writeback.reissue is empty")
	}
	err = d.retryLocks(ctx, func(ctx context.Context) error {
		outcome, existing, err = d.writeGuarded(ctx, d.reissue, values)
		return err
	})
	return outcome, existing, err
}

// HasReissue reports whether writeback.reissue has statements.
func (d *DB) HasReissue() bool { return len(d.reissue) > 0 }

func (d *DB) writeWaybill(ctx context.Context, values map[string]any) (Outcome, string, error) {
	return d.writeGuarded(ctx, d.waybill, values)
}

// writeGuarded runs stmts in one transaction: the first is the guard, the rest follow when it
// took or when the row already holds :waybill.
func (d *DB) writeGuarded(ctx context.Context, stmts []*prepared, values map[string]any) (Outcome, string, error) {
	tx, err := d.db.BeginTx(ctx, d.txOpts)
	if err != nil {
		return 0, "", fmt.Errorf("write back waybill: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	changed, err := d.exec(ctx, tx, stmts[0], values)
	if err != nil {
		return 0, "", err
	}
	outcome, existing := Written, ""
	if changed == 0 {
		tx.Rollback() //nolint:errcheck
		outcome, existing, err = d.whyUnchanged(ctx, d.currentStmt(ctx, nil), values)
		if err != nil || outcome != AlreadyWritten || len(stmts) == 1 {
			return outcome, existing, err
		}
		// Our waybill is there but the rest may not be: on a non-transactional (MyISAM) table a
		// crash can fall between two statements. They are idempotent by contract; complete them.
		if tx, err = d.db.BeginTx(ctx, d.txOpts); err != nil {
			return 0, "", fmt.Errorf("write back waybill: %w", err)
		}
		defer tx.Rollback() //nolint:errcheck
	}
	for _, p := range stmts[1:] {
		if _, err := d.exec(ctx, tx, p, values); err != nil {
			return 0, "", err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, "", fmt.Errorf("write back waybill: commit: %w", err)
	}
	return outcome, existing, nil
}

// WaybillResult is one order's outcome in WriteWaybills; Existing is the shop's waybill on a
// Conflict.
type WaybillResult struct {
	Outcome  Outcome
	Existing string
}

// WriteWaybills writes several orders' waybills in one transaction — each order's guard, then
// its follow-up statements where the guard took (or this very waybill is already there), as
// WriteWaybill does — and commits once, which spares a BEGIN and a COMMIT per order under load.
// If any statement fails the whole batch is rolled back (on InnoDB) and the error returned: the
// caller then writes the orders one by one, and on a non-transactional table whatever the batch
// already wrote is recognised as AlreadyWritten and completed, like a replay.
func (d *DB) WriteWaybills(ctx context.Context, batch []map[string]any) (res []WaybillResult, err error) {
	err = d.retryLocks(ctx, func(ctx context.Context) error {
		res, err = d.writeWaybills(ctx, batch)
		return err
	})
	return res, err
}

func (d *DB) writeWaybills(ctx context.Context, batch []map[string]any) ([]WaybillResult, error) {
	tx, err := d.db.BeginTx(ctx, d.txOpts)
	if err != nil {
		return nil, fmt.Errorf("write back waybills: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res := make([]WaybillResult, len(batch))
	for i, values := range batch {
		changed, err := d.exec(ctx, tx, d.waybill[0], values)
		if err != nil {
			return nil, err
		}
		res[i].Outcome = Written
		if changed == 0 {
			res[i].Outcome, res[i].Existing, err = d.whyUnchanged(ctx, d.currentStmt(ctx, tx), values)
			if err != nil {
				return nil, err
			}
			if res[i].Outcome != AlreadyWritten || d.current == nil {
				continue
			}
		}
		for _, p := range d.waybill[1:] {
			if _, err := d.exec(ctx, tx, p, values); err != nil {
				return nil, err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("write back waybills: commit: %w", err)
	}
	return res, nil
}

// currentStmt is writeback.current_waybill, inside tx when there is one; nil when not configured.
func (d *DB) currentStmt(ctx context.Context, tx *sql.Tx) *sql.Stmt {
	switch {
	case d.current == nil:
		return nil
	case tx != nil:
		return tx.StmtContext(ctx, d.current.stmt)
	}
	return d.current.stmt
}

// whyUnchanged tells why the guard changed nothing, reading the shop's waybill with current
// (writeback.current_waybill; nil when not configured).
func (d *DB) whyUnchanged(ctx context.Context, current *sql.Stmt, values map[string]any) (Outcome, string, error) {
	var cur sql.NullString
	err := current.QueryRowContext(ctx, mustArgs(d.current, values)...).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return Missing, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", d.current.name, err)
	}
	want, _ := values["waybill"].(string)
	switch {
	case cur.String == "":
		return Missing, "", nil
	case containsWaybill(cur.String, want, d.sep):
		return AlreadyWritten, cur.String, nil
	default:
		return Conflict, cur.String, nil
	}
}

// containsWaybill accepts the waybill alone or as one of several joined the way ECShop joins
// them ("<br>") or with commas.
func containsWaybill(stored, want, sep string) bool {
	if stored == want {
		return true
	}
	if sep != "" {
		stored = strings.ReplaceAll(stored, sep, ",")
	}
	for _, part := range strings.FieldsFunc(strings.ReplaceAll(stored, "<br>", ","), func(r rune) bool { return r == ',' }) {
		if strings.TrimSpace(part) == want {
			return true
		}
	}
	return false
}

// WriteStatus runs the statements configured for a canonical status in one transaction. It
// returns false when none are configured.
func (d *DB) WriteStatus(ctx context.Context, status string, values map[string]any) (bool, error) {
	list := d.status[status]
	if len(list) == 0 {
		return false, nil
	}
	return true, d.retryLocks(ctx, func(ctx context.Context) error { return d.writeStatus(ctx, status, list, values) })
}

func (d *DB) writeStatus(ctx context.Context, status string, list []*prepared, values map[string]any) error {
	tx, err := d.db.BeginTx(ctx, d.txOpts)
	if err != nil {
		return fmt.Errorf("write back status %s: %w", status, err)
	}
	defer tx.Rollback() //nolint:errcheck
	for _, p := range list {
		if _, err := d.exec(ctx, tx, p, values); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write back status %s: commit: %w", status, err)
	}
	return nil
}

func (d *DB) exec(ctx context.Context, tx *sql.Tx, p *prepared, values map[string]any) (int64, error) {
	args, err := p.t.Args(values)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p.name, err)
	}
	res, err := tx.StmtContext(ctx, p.stmt).ExecContext(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p.name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p.name, err)
	}
	return n, nil
}

// mustArgs binds values the caller always provides (queries take only :key); a template asking
// for more gets NULLs, which config validation prevents.
func mustArgs(p *prepared, values map[string]any) []any {
	args := make([]any, len(p.t.Params))
	for i, name := range p.t.Params {
		args[i] = values[name]
	}
	return args
}
