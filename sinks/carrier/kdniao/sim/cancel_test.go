package sim

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestLabelsAndParcels(t *testing.T) {
	s, srv := start(t, Config{})
	c := client(srv, testAppKey, 5*time.Second)
	ctx := context.Background()

	o := testOrder("SO-LABEL-1")
	o.Labels, o.TemplateSize, o.Quantity = true, "180", 3
	w, err := c.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Children) != 2 || len(w.ChildLabels) != 2 {
		t.Fatalf("children %v, %d child labels; want 2 and 2", w.Children, len(w.ChildLabels))
	}
	for i, doc := range append([]string{w.Label}, w.ChildLabels...) {
		number := w.LogisticCode
		if i > 0 {
			number = w.Children[i-1]
		}
		for _, want := range []string{number, "Yann", "三里屯街道雅秀大厦", "height:180mm", "</html>"} {
			if !strings.Contains(doc, want) {
				t.Errorf("label %d lacks %q", i, want)
			}
		}
	}
	// A repeat answers the same numbers and labels (106).
	again, err := c.Create(ctx, o)
	if err != nil || !again.Repeat || again.LogisticCode != w.LogisticCode || strings.Join(again.Children, ",") != strings.Join(w.Children, ",") ||
		again.Label != w.Label {
		t.Errorf("repeat = %+v, %v; want the same waybill, children and label", again, err)
	}
	// Without IsReturnPrintTemplate, no label.
	plain, err := c.Create(ctx, testOrder("SO-PLAIN"))
	if err != nil || plain.Label != "" || len(plain.Children) != 0 {
		t.Errorf("plain create = %+v, %v; want no label, no children", plain, err)
	}
	if st := s.Stats(); st.Labels != 6 || st.Creates != 2 {
		t.Errorf("stats labels %d creates %d, want 6 and 2", st.Labels, st.Creates)
	}
	o.OrderCode, o.Quantity = "SO-TOO-MANY", maxParcels+1
	if _, err := c.Create(ctx, o); err == nil || !kdniaoError(t, err).Permanent() {
		t.Errorf("create of %d parcels = %v, want a permanent refusal", maxParcels+1, err)
	}
}

func TestCancel(t *testing.T) {
	s, srv := start(t, Config{TimeScale: 1}) // real time: nothing is picked up during the test
	c := client(srv, testAppKey, 5*time.Second)
	ctx := context.Background()
	w, err := c.Create(ctx, testOrder("SO-CANCEL-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, "SIM", "SO-CANCEL-1", "SIM-NOT-A-WAYBILL"); err == nil || !kdniaoError(t, err).Permanent() {
		t.Errorf("cancel of an unknown waybill = %v, want a permanent refusal", err)
	}
	if err := c.Cancel(ctx, "SIM", "SO-OTHER", w.LogisticCode); err == nil {
		t.Error("cancel naming another order code succeeded")
	}
	if err := c.Cancel(ctx, "SIM", "SO-CANCEL-1", w.LogisticCode); err != nil {
		t.Fatalf("cancel before pickup: %v", err)
	}
	if !s.Cancelled(w.LogisticCode) {
		t.Error("the simulator does not hold the waybill as cancelled")
	}
	if err := c.Cancel(ctx, "SIM", "SO-CANCEL-1", w.LogisticCode); err != nil {
		t.Errorf("a repeated cancel: %v, want success", err)
	}
	// The order code stays used: a create answers the cancelled waybill (106).
	again, err := c.Create(ctx, testOrder("SO-CANCEL-1"))
	if err != nil || !again.Repeat || again.LogisticCode != w.LogisticCode {
		t.Errorf("create after cancel = %+v, %v; want 106 with the same waybill", again, err)
	}
	if st := s.Stats(); st.Cancels != 1 || st.CancelsRefused != 2 {
		t.Errorf("cancels %d refused %d, want 1 and 2", st.Cancels, st.CancelsRefused)
	}
}

func TestCancelAfterPickupIsRefused(t *testing.T) {
	s, srv := start(t, Config{TimeScale: 1e6}) // an hour passes in 4 ms: picked up at once
	c := client(srv, testAppKey, 5*time.Second)
	ctx := context.Background()
	w, err := c.Create(ctx, testOrder("SO-CANCEL-2"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !s.PickedUp(w.LogisticCode) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	err = c.Cancel(ctx, "SIM", "SO-CANCEL-2", w.LogisticCode)
	if err == nil || !kdniaoError(t, err).Permanent() || !strings.Contains(err.Error(), reasonPickedUp) {
		t.Errorf("cancel after pickup = %v, want a permanent refusal %q", err, reasonPickedUp)
	}
	if s.Cancelled(w.LogisticCode) {
		t.Error("a picked-up waybill was cancelled")
	}
}
