package pipeline_test

import (
	"context"
	"io"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// scrape returns the pipeline's /metrics text.
func (h *harness) scrape() string {
	h.t.Helper()
	srv := httptest.NewServer(h.p.Metrics().Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// sample reads one series' value from a scrape ("name{labels}" exactly as exposed).
func sample(text, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// TestMetrics: a live scrape of a running pipeline carries what it did, passes promtool, and
// readiness follows the dependencies.
func TestMetrics(t *testing.T) {
	h, ids := newHarness(t, "demo", 12, sim.Config{})
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids[:10]); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids[:10], 30*time.Second)
	want := map[string]float64{
		`shipsync_orders_total{outcome="written"}`:                                     10,
		`shipsync_paid_detected_total`:                                                 10,
		`shipsync_end_to_end_seconds_count`:                                            10,
		`shipsync_carrier_requests_total{carrier="sim",op="create",outcome="success"}`: 10,
		`shipsync_writeback_total{kind="waybill",outcome="written"}`:                   10,
		`shipsync_leader`: 1,
		`shipsync_ready`:  1,
	}
	var text string
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		text = h.scrape()
		for series, v := range want {
			if got, ok := sample(text, series); !ok || got != v {
				return false, series + " = " + strconv.FormatFloat(got, 'f', -1, 64) + ", want " + strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
		return true, ""
	})
	if lag, ok := sample(text, "shipsync_binlog_lag_seconds"); !ok || lag > 10 {
		t.Errorf("binlog lag %v on a caught-up stream", lag)
	}
	if ok, why := h.p.Ready(); !ok {
		t.Errorf("not ready: %s", why)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install it (apt-get install prometheus; make test does)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
