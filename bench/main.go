// Command bench measures shipsync against the numbers of DESIGN.md §7 and against the usual
// alternative, a poller. It starts its own MariaDB and Redis (testenv/up.sh on free ports and a
// temporary data dir, never the shared test instance), builds the daemon and the canal reference,
// runs the scenarios, prints one table and writes bench/results.json. See docs/benchmarks.md.
//
//	go run ./bench                           # everything at full size (make bench)
//	go run ./bench -scale quick              # smoke size, under a minute or two (make bench-quick)
//	go run ./bench -only drain,ingest        # some scenarios
//
// Figures are measurements, not assertions: a short target is reported, never fails the run.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/shipsync/shipsync/testenv"
)

// scenario is one benchmark; run adds rows to the report.
type scenario struct {
	name string
	run  func(ctx context.Context, b *bench) error
}

// scenarios in the order they run (cheapest set-up first is not the point: the order of the
// issue's priorities is).
var scenarios = []scenario{
	{"drain", runDrain},
	{"ingest", runIngest},
	{"polling", runPolling},
	{"slow", runSlowCarrier},
	{"latency", runLatency},
	{"memory", runMemory},
}

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	only := flag.String("only", "", "comma-separated scenarios to run (default all): "+names())
	scaleName := flag.String("scale", "full", "quick (smoke run) | full (the sizes of DESIGN.md §7)")
	out := flag.String("out", "", "where to write the results as JSON (default bench/results.json, bench/results-quick.json at -scale quick)")
	profDir := flag.String("profiles", "", "where CPU/heap profiles and their top entries go (default bench/profiles/<scale>)")
	keep := flag.Bool("keep", false, "leave MariaDB and Redis running (and their data dir) at the end")
	memOrders := flag.Int("memory-orders", 0, "memory: pay this many orders instead of the scale's (e.g. 1000000, DESIGN.md §7's million)")
	memRate := flag.Int("memory-rate", 0, "memory: orders/s paid meanwhile, in transactions of 100 (default: the scale's, 400)")
	flag.Parse()

	sc, ok := scales[*scaleName]
	if !ok {
		log.Fatalf("unknown -scale %q (quick or full)", *scaleName)
	}
	if *memRate > 0 {
		sc.memoryRate = *memRate
	}
	if *memOrders > 0 {
		sc.memoryFor = time.Duration(float64(*memOrders) / float64(sc.memoryRate) * float64(time.Second))
	}
	selected := scenarios
	if *only != "" {
		selected = nil
		for _, n := range strings.Split(*only, ",") {
			i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == strings.TrimSpace(n) })
			if i < 0 {
				log.Fatalf("unknown scenario %q (have %s)", n, names())
			}
			selected = append(selected, scenarios[i])
		}
	}

	// A smoke run must not overwrite the results and profiles of the last full run.
	if *out == "" {
		*out = "bench/results.json"
		if sc.name != "full" {
			*out = "bench/results-" + sc.name + ".json"
		}
	}
	if *profDir == "" {
		*profDir = filepath.Join("bench", "profiles", sc.name)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := testenv.ModuleRoot()
	if err != nil {
		log.Fatal(err)
	}
	b := &bench{root: root, scale: sc, profDir: *profDir}
	if !filepath.IsAbs(b.profDir) {
		b.profDir = filepath.Join(root, b.profDir)
	}
	if err := os.MkdirAll(b.profDir, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := b.setUp(ctx); err != nil {
		b.tearDown(*keep)
		log.Fatal(err)
	}
	began := time.Now()
	for _, s := range selected {
		if ctx.Err() != nil {
			b.notRun(s.name, "interrupted")
			continue
		}
		log.Printf("scenario %s (scale %s)", s.name, sc.name)
		t0, first, load0 := time.Now(), len(b.report.Rows), loadAvg()
		if err := s.run(ctx, b); err != nil {
			log.Printf("scenario %s failed: %v", s.name, err)
			b.notRun(s.name, "failed: "+err.Error())
		}
		// The machine may be shared: say how busy it was.
		load := fmt.Sprintf("load average (1 min) %s at the start, %s at the end of the scenario (%d CPUs)",
			load0, loadAvg(), runtime.NumCPU())
		for i := first; i < len(b.report.Rows); i++ {
			b.report.Rows[i].Notes = append(b.report.Rows[i].Notes, load)
		}
		log.Printf("scenario %s took %s; %s", s.name, time.Since(t0).Round(time.Second), load)
	}
	b.report.Scale = sc.name
	b.report.Duration = time.Since(began).Round(time.Second).String()
	b.report.Machine = describeMachine(ctx, b)
	b.tearDown(*keep)

	b.report.print(os.Stdout)
	path := *out
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := b.report.write(path); err != nil {
		log.Fatal(err)
	}
	log.Printf("results written to %s", path)
}

// loadAvg is the 1-minute load average.
func loadAvg() string {
	buf, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(buf))[0]
}

func names() string {
	var n []string
	for _, s := range scenarios {
		n = append(n, s.name)
	}
	return strings.Join(n, ",")
}

// scale holds every size the scenarios use.
type scale struct {
	name string

	ingestRows int // row events generated for the ingest comparison (≥ 500k at full size)
	ingestRuns int // each side runs this many times; the median counts

	drainOrders int // N of the backlog drain (≥ 20,000 at full size)

	latencyRate int           // orders/s paid during the latency run
	latencyFor  time.Duration // how long
	latencyLow  int           // a second, lower rate, to separate latency from saturation (0: none)

	slowOrders int // backlog drained with the carrier at 200 ms (per max_in_flight setting)

	memoryFor  time.Duration // how long the shop pays during the memory run
	memoryRate int           // orders/s paid meanwhile (in transactions of 100)

	pollSizes   []int         // ecs_order_info sizes compared against polling
	pollRate    int           // orders/s paid while measuring detection
	pollFor     time.Duration // per variant
	pollEvery   time.Duration // the poller's interval
	pollVariant []string      // which poller variants run
}

var scales = map[string]scale{
	"quick": {name: "quick", ingestRows: 50_000, ingestRuns: 1, drainOrders: 1_500,
		latencyRate: 200, latencyFor: 4 * time.Second, slowOrders: 500,
		memoryFor: 5 * time.Second, memoryRate: 400,
		pollSizes: []int{10_000}, pollRate: 100, pollFor: 4 * time.Second, pollEvery: time.Second,
		pollVariant: []string{"unindexed", "indexed"}},
	"full": {name: "full", ingestRows: 1_000_000, ingestRuns: 3, drainOrders: 20_000,
		latencyRate: 2000, latencyFor: 60 * time.Second, latencyLow: 500, slowOrders: 6_000,
		memoryFor: 150 * time.Second, memoryRate: 400,
		pollSizes: []int{10_000, 100_000, 1_000_000}, pollRate: 100, pollFor: 8 * time.Second, pollEvery: time.Second,
		pollVariant: []string{"unindexed", "ecshop-index", "indexed"}},
}
