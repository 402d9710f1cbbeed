package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/state"
)

// TestLabelsCommand prints labels the way a warehouse does: the waiting ones as a batch (then
// marked printed, so the next batch is empty), one order's again as a PDF, in print order (by
// carrier, then paid time), each waybill once.
func TestLabelsCommand(t *testing.T) {
	conf, s := demoShop(t)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	// Paid in this order; printed by carrier (a before b), then paid time.
	orders := []struct{ key, carrier string }{{"1", "b"}, {"2", "a"}, {"3", "b"}, {"4", "a"}}
	for i, o := range orders {
		owner := "p:" + o.key
		if _, _, err := s.Claim(ctx, o.key, owner, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Submitting(ctx, o.key, owner, "SO"+o.key, o.carrier, "SIM"); err != nil {
			t.Fatal(err)
		}
		wb := "SIMW" + o.key
		html := fmt.Sprintf("<!DOCTYPE html><html><body><p>label of %s for 张三</p></body></html>", wb)
		err := s.RecordWaybills(ctx, []state.WaybillRecord{{Key: o.key, Owner: owner, Carrier: o.carrier, Waybill: wb,
			Labels: []state.Label{{Waybill: wb, Order: o.key, OrderCode: "SO" + o.key, Carrier: o.carrier, Parcels: 1,
				PaidAt: base.Add(time.Duration(i) * time.Minute), HTML: []byte(html)}}}})[0]
		if err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := dispatch(ctx, append([]string{"labels"}, append(args, "--config", conf)...), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	dir := t.TempDir()
	out, err := run("print", "--batch", "next", "--out", filepath.Join(dir, "batch.html"))
	if err != nil || !strings.Contains(out, "4 labels written") || !strings.Contains(out, "marked printed") {
		t.Fatalf("print --batch next: %v\n%s", err, out)
	}
	doc, err := os.ReadFile(filepath.Join(dir, "batch.html"))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, m := range regexp.MustCompile(`▸ (SIMW[0-9]) ▸`).FindAllStringSubmatch(string(doc), -1) {
		seen = append(seen, m[1])
	}
	if got := strings.Join(seen, ","); got != "SIMW2,SIMW4,SIMW1,SIMW3" {
		t.Errorf("print order %s, want SIMW2,SIMW4,SIMW1,SIMW3 (carrier a, then b; each by paid time)", got)
	}
	if out, err = run("print", "--batch", "next", "--out", filepath.Join(dir, "again.html")); err != nil || !strings.Contains(out, "no labels to print") {
		t.Errorf("a second --batch next: %v\n%s", err, out)
	}
	out, err = run("list")
	if err != nil || strings.Count(out, "SIMW") != 4 || strings.Count(out, time.Now().Format("2006-01-02")) < 8 {
		t.Errorf("list after the batch: %v\n%s", err, out)
	}
	if out, err = run("list", "--unprinted"); err != nil || strings.Contains(out, "SIMW") {
		t.Errorf("list --unprinted after the batch: %v\n%s", err, out)
	}
	// A reprint of one order, as PDF.
	pdf := filepath.Join(dir, "SO3.pdf")
	if out, err = run("print", "--order", "SO3", "--format", "pdf", "--out", pdf); err != nil || !strings.Contains(out, "1 labels written") {
		t.Fatalf("print --order SO3 --format pdf: %v\n%s", err, out)
	}
	text, err := exec.Command("pdftotext", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext (install poppler-utils: bash deploy/install-tools.sh): %v", err)
	}
	if !strings.Contains(string(text), "SIMW3") || strings.Contains(string(text), "SIMW1") || !strings.Contains(string(text), "张三") {
		t.Errorf("the reprint's text:\n%s", text)
	}
	for _, bad := range [][]string{{"print", "--out", "x"}, {"print", "--batch", "next"}, {"print", "--since", "1h", "--batch", "next", "--out", "x"},
		{"print", "--batch", "all", "--out", "x"}, {"print", "--order", "SO1", "--format", "png", "--out", "x"}} {
		if _, err := run(bad...); err != exitCode(2) {
			t.Errorf("labels %v: %v, want exit status 2", bad, err)
		}
	}
}
