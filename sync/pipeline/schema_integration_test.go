package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestAlterTableLive: columns are resolved by name, so ALTER TABLEs that shift every column's
// position mid-stream change nothing for shipsync. Without binlog_row_metadata the names come
// from the table's definition when the reader meets the DDL, so there each ALTER follows once the
// reader has passed the rows before it (a reader that meets two ALTERs only after both ran stops
// with a column mismatch: see TestAlterTableBeforeResume); with FULL metadata they follow each
// other at once.
func TestAlterTableLive(t *testing.T) {
	for _, metadata := range []string{"NO_LOG", "FULL"} {
		t.Run(metadata, func(t *testing.T) {
			setRowMetadata(t, metadata)
			h, ids := newHarness(t, "demo", 90, sim.Config{})
			ctx := context.Background()
			h.run(false)
			h.waitStarted()
			caughtUp := func(batch []int64) {
				if metadata != "FULL" {
					h.waitWritten(batch, 60*time.Second)
				}
			}
			if err := demo.Pay(ctx, h.db, ids[0:20]); err != nil {
				t.Fatal(err)
			}
			caughtUp(ids[0:20])
			h.exec("ALTER TABLE ecs_order_info ADD COLUMN shop_note VARCHAR(20) NOT NULL DEFAULT '' FIRST")
			if err := demo.Pay(ctx, h.db, ids[20:40]); err != nil {
				t.Fatal(err)
			}
			caughtUp(ids[20:40])
			h.exec("ALTER TABLE ecs_order_info DROP COLUMN email, ADD COLUMN pay_note2 INT NOT NULL DEFAULT 0 AFTER order_id")
			if err := demo.Pay(ctx, h.db, ids[40:60]); err != nil {
				t.Fatal(err)
			}
			h.waitWritten(ids[:60], 60*time.Second)
			h.waitCaughtUp()
			h.assertShipped(ids[:60])
			h.assertUntouched(ids[60:])
		})
	}
}

// TestAlterTableBeforeResume is the classic trap: shipsync resumes from a checkpoint older than
// an ALTER TABLE. Without column names in the binlog it must stop with a clear error rather than
// read a value from the wrong column; with binlog_row_metadata=FULL it reads every event right.
func TestAlterTableBeforeResume(t *testing.T) {
	t.Run("without metadata it stops", func(t *testing.T) {
		h, ids := stoppedAcrossAlter(t, "NO_LOG", 20, "",
			"ALTER TABLE ecs_order_info ADD COLUMN shop_note VARCHAR(20) NOT NULL DEFAULT '' FIRST")
		err := h.runUntilExit(false)
		if !errors.Is(err, binlog.ErrColumnMismatch) || !strings.Contains(err.Error(), "binlog_row_metadata=FULL") {
			t.Fatalf("resume across ALTER TABLE without metadata: got %v, want a column mismatch naming the remedy", err)
		}
		h.assertUntouched(ids)
	})
	t.Run("without metadata a same-width ALTER stops too", func(t *testing.T) {
		// The width is the same before and after the second ALTER; the column types are not.
		h, ids := stoppedAcrossAlter(t, "NO_LOG", 20,
			"ALTER TABLE ecs_order_info ADD COLUMN shop_note VARCHAR(20) NOT NULL DEFAULT '' FIRST",
			"ALTER TABLE ecs_order_info DROP COLUMN email, ADD COLUMN pay_note2 INT NOT NULL DEFAULT 0 AFTER order_id")
		err := h.runUntilExit(false)
		if !errors.Is(err, binlog.ErrColumnMismatch) || !strings.Contains(err.Error(), "binlog type") {
			t.Fatalf("resume across a same-width ALTER without metadata: got %v, want a column type mismatch", err)
		}
		h.assertUntouched(ids)
	})
	t.Run("with FULL metadata it resumes", func(t *testing.T) {
		h, ids := stoppedAcrossAlter(t, "FULL", 30, "",
			"ALTER TABLE ecs_order_info DROP COLUMN email, ADD COLUMN shop_note VARCHAR(20) NOT NULL DEFAULT '' FIRST")
		if err := demo.Pay(context.Background(), h.db, ids[10:20]); err != nil {
			t.Fatal(err)
		}
		h.run(false)
		h.waitWritten(ids[:20], 60*time.Second)
		h.assertShipped(ids[:20])
		h.assertUntouched(ids[20:])
	})
}

// stoppedAcrossAlter sets binlog_row_metadata, runs `before` (if any), starts shipsync until its
// first checkpoint and stops it, pays the first 10 of n orders and runs `alter`: shipsync's
// checkpoint is now older than the ALTER.
func stoppedAcrossAlter(t *testing.T, metadata string, n int, before, alter string) (*harness, []int64) {
	t.Helper()
	setRowMetadata(t, metadata)
	h, ids := newHarness(t, "demo", n, sim.Config{})
	if before != "" {
		h.exec(before)
	}
	stop := h.run(false)
	h.waitStarted()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := demo.Pay(context.Background(), h.db, ids[:10]); err != nil {
		t.Fatal(err)
	}
	h.exec(alter)
	return h, ids
}

// setRowMetadata sets the server's binlog_row_metadata for the test and restores it after.
func setRowMetadata(t *testing.T, v string) {
	t.Helper()
	db := testenv.RequireMySQL(t)
	var name, old string
	if err := db.QueryRow("SHOW GLOBAL VARIABLES LIKE 'binlog_row_metadata'").Scan(&name, &old); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("SET GLOBAL binlog_row_metadata = " + map[string]string{"FULL": "FULL", "NO_LOG": "NO_LOG", "MINIMAL": "MINIMAL"}[v]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("SET GLOBAL binlog_row_metadata = " + map[string]string{"FULL": "FULL", "NO_LOG": "NO_LOG", "MINIMAL": "MINIMAL"}[old]); err != nil {
			t.Error(err)
		}
	})
}

// TestPurgedCheckpoint: a checkpoint the server no longer has stops shipsync with a clear error;
// --recover restarts at the current position and the backfill ships what is still unshipped.
func TestPurgedCheckpoint(t *testing.T) {
	h, ids := newHarness(t, "demo", 10, sim.Config{})
	ctx := context.Background()
	if err := h.store.SaveCheckpoint(ctx, state.Checkpoint{File: "mysql-bin.000000", Pos: 4}); err != nil {
		t.Fatal(err)
	}
	if err := demo.Pay(ctx, h.db, ids[:5]); err != nil {
		t.Fatal(err)
	}
	err := h.runUntilExit(false)
	if !errors.Is(err, pipeline.ErrCheckpointPurged) || !strings.Contains(err.Error(), "mysql-bin.000000:4") ||
		!strings.Contains(err.Error(), "--recover") {
		t.Fatalf("got %v, want a purged-checkpoint error naming the position and --recover", err)
	}
	if st := h.sim.Stats(); st.Creates != 0 {
		t.Fatalf("shipped %d orders from a purged checkpoint", st.Creates)
	}
	h.run(true)
	h.waitWritten(ids[:5], 30*time.Second)
	h.assertShipped(ids[:5])
	h.assertUntouched(ids[5:])
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		cp, ok, err := h.store.LoadCheckpoint(ctx)
		return err == nil && ok && cp.File != "mysql-bin.000000", fmt.Sprintf("checkpoint after --recover: %+v %v %v", cp, ok, err)
	})
}
