package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shipsync/shipsync/testenv"
)

// pprofHook is compiled into the bench's shipsync binary through `go build -overlay`, so the
// daemon's sources stay untouched: with SHIPSYNC_BENCH_PPROF set it serves net/http/pprof on that
// address, and with SHIPSYNC_BENCH_CPUPROFILE it profiles the CPU from the first instant until
// GET /bench/stop-cpu, which is what a drain measured from process start needs.
const pprofHook = `package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/pprof"
	"sync"
)

func init() {
	addr := os.Getenv("SHIPSYNC_BENCH_PPROF")
	if addr == "" {
		return
	}
	var mu sync.Mutex
	var f *os.File
	if path := os.Getenv("SHIPSYNC_BENCH_CPUPROFILE"); path != "" {
		if out, err := os.Create(path); err == nil && pprof.StartCPUProfile(out) == nil {
			f = out
		}
	}
	http.HandleFunc("/bench/stop-cpu", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
			f = nil
		}
	})
	go http.ListenAndServe(addr, nil)
}
`

// buildShipsync builds cmd/shipsync with the pprof hook added by an overlay.
func buildShipsync(ctx context.Context, root, binDir string) (string, error) {
	hook := filepath.Join(binDir, "zz_bench_pprof.go")
	if err := os.WriteFile(hook, []byte(pprofHook), 0o644); err != nil {
		return "", err
	}
	overlay := filepath.Join(binDir, "overlay.json")
	if err := writeJSON(overlay, map[string]map[string]string{"Replace": {
		filepath.Join(root, "cmd", "shipsync", "zz_bench_pprof.go"): hook}}); err != nil {
		return "", err
	}
	bin := filepath.Join(binDir, "shipsync")
	if err := run(ctx, root, nil, "go", "build", "-overlay", overlay, "-o", bin, "./cmd/shipsync"); err != nil {
		return "", fmt.Errorf("build shipsync: %w", err)
	}
	return bin, nil
}

// proc is a child process of the bench (daemon or simulator), its output in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs string
	done chan struct{}
	err  error
}

func (b *bench) startProc(name string, env []string, args ...string) (*proc, error) {
	logs := filepath.Join(b.binDir, name+".log")
	f, err := os.OpenFile(logs, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fmt.Fprintf(f, "---- %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM and waits (then SIGKILL after 40 s).
func (p *proc) stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have just exited
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		log.Printf("%s did not stop within 40 s; killing it", p.name)
		p.cmd.Process.Kill() //nolint:errcheck
		<-p.done
	}
	return p.err
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// tail returns the last lines of the process's log, for error messages.
func (p *proc) tail(n int) string {
	buf, _ := os.ReadFile(p.logs)
	lines := strings.Split(strings.TrimSpace(string(buf)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// carrierSim starts `shipsync sim-carrier` with the given latency and returns its base URL.
func (b *bench) carrierSim(latency time.Duration) (*proc, string, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return nil, "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := b.startProc("sim-carrier", []string{"KDNIAO_APP_KEY=" + appKey},
		b.shipsync, "sim-carrier", "--listen", addr, "--ebusiness-id", ebusinessID, "--latency", latency.String())
	if err != nil {
		return nil, "", err
	}
	if err := waitHTTP("http://"+addr+"/stats", 10*time.Second); err != nil {
		p.stop()
		return nil, "", fmt.Errorf("sim-carrier: %w\n%s", err, p.tail(20))
	}
	return p, "http://" + addr, nil
}

// daemon is a running `shipsync run`.
type daemon struct {
	*proc
	metrics string // http://addr/metrics
	pprof   string // http://addr of the bench pprof hook
	started time.Time
	cpuProf string // profile file while CPU profiling is on
}

// startDaemon runs shipsync with conf; cpuProfile, when not empty, profiles from the start.
func (b *bench) startDaemon(conf, listen string, cpuProfile string, args ...string) (*daemon, error) {
	pport, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", pport)
	env := []string{"SHOP_DB_PASSWORD=" + mysqlPassword, "KDNIAO_APP_KEY=" + appKey,
		"KDNIAO_EBUSINESS_ID=" + ebusinessID, "SHIPSYNC_BENCH_PPROF=" + pprofAddr}
	if cpuProfile != "" {
		env = append(env, "SHIPSYNC_BENCH_CPUPROFILE="+cpuProfile)
	}
	started := time.Now()
	p, err := b.startProc("shipsync", env, append([]string{b.shipsync, "run", "--config", conf}, args...)...)
	if err != nil {
		return nil, err
	}
	d := &daemon{proc: p, metrics: "http://" + listen + "/metrics", pprof: "http://" + pprofAddr,
		started: started, cpuProf: cpuProfile}
	return d, nil
}

// waitMetrics waits until the daemon's /metrics answers.
func (d *daemon) waitMetrics(timeout time.Duration) error {
	if err := waitHTTP(d.metrics, timeout); err != nil {
		return fmt.Errorf("shipsync: %w\n%s", err, d.tail(30))
	}
	return nil
}

// stopCPU ends the CPU profile and writes its top entries next to it.
func (d *daemon) stopCPU(b *bench, label string) string {
	if d.cpuProf == "" {
		return ""
	}
	resp, err := http.Get(d.pprof + "/bench/stop-cpu")
	if err != nil {
		log.Printf("stop CPU profile: %v", err)
		return ""
	}
	resp.Body.Close()
	return b.pprofTop(d.cpuProf, label, "")
}

// heapProfile saves the daemon's heap profile and its top entries.
func (d *daemon) heapProfile(b *bench, label string) string {
	path := filepath.Join(b.profDir, label+".heap.pprof")
	resp, err := http.Get(d.pprof + "/debug/pprof/heap")
	if err != nil {
		log.Printf("heap profile: %v", err)
		return ""
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return ""
	}
	io.Copy(f, resp.Body) //nolint:errcheck
	f.Close()
	return b.pprofTop(path, label+".heap", "-sample_index=inuse_space")
}

// pprofTop runs `go tool pprof -top` on a profile and saves the text as <label>.top.txt.
func (b *bench) pprofTop(profile, label, extra string) string {
	args := []string{"tool", "pprof", "-top", "-nodecount=25"}
	if extra != "" {
		args = append(args, extra)
	}
	args = append(args, b.shipsync, profile)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		log.Printf("go tool pprof: %v\n%s", err, out)
		return ""
	}
	path := filepath.Join(b.profDir, label+".top.txt")
	os.WriteFile(path, out, 0o644) //nolint:errcheck
	rel, _ := filepath.Rel(b.root, path)
	return rel
}

func waitHTTP(u string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s: %w", u, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape reads a Prometheus text page into sample name (with labels, as printed) -> value.
func scrape(u string) (map[string]float64, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	// Uncompressed: promhttp would otherwise gzip every page, and at a scrape every 10-20 ms
	// that compression alone showed up as 5 % of the daemon's CPU profile.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// sum adds the samples whose name starts with prefix (a metric with any labels) and contain
// every one of the label matchers, e.g. sum(m, "shipsync_writeback_total", `kind="waybill"`).
func sum(m map[string]float64, prefix string, labels ...string) float64 {
	var s float64
outer:
	for k, v := range m {
		if k != prefix && !strings.HasPrefix(k, prefix+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(k, l) {
				continue outer
			}
		}
		s += v
	}
	return s
}

// written is the number of waybill write-backs done (written or found already written).
func written(m map[string]float64) float64 {
	return sum(m, "shipsync_writeback_total", `kind="waybill"`) -
		sum(m, "shipsync_writeback_total", `kind="waybill"`, `outcome="error"`)
}

// histQuantile estimates a quantile from a Prometheus histogram the way histogram_quantile does
// (linear within the bucket).
func histQuantile(m map[string]float64, name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	for k, v := range m {
		if !strings.HasPrefix(k, name+"_bucket{") {
			continue
		}
		i := strings.Index(k, `le="`)
		if i < 0 {
			continue
		}
		s := k[i+4:]
		s = s[:strings.IndexByte(s, '"')]
		le, err := strconv.ParseFloat(s, 64)
		if s == "+Inf" {
			le, err = math.Inf(1), nil
		}
		if err == nil {
			bs = append(bs, bucket{le, v})
		}
	}
	if len(bs) == 0 {
		return math.NaN()
	}
	for i := range bs {
		for j := i + 1; j < len(bs); j++ {
			if bs[j].le < bs[i].le {
				bs[i], bs[j] = bs[j], bs[i]
			}
		}
	}
	total := bs[len(bs)-1].n
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	prevLe, prevN := 0.0, 0.0
	for _, bk := range bs {
		if bk.n >= rank {
			if math.IsInf(bk.le, 1) {
				return prevLe
			}
			if bk.n == prevN {
				return bk.le
			}
			return prevLe + (bk.le-prevLe)*(rank-prevN)/(bk.n-prevN)
		}
		prevLe, prevN = bk.le, bk.n
	}
	return prevLe
}

// cpuTicks reads a process's utime+stime in clock ticks (1/100 s) from /proc.
func cpuTicks(pid int) (int64, error) {
	buf, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(buf)
	s = s[strings.LastIndexByte(s, ')')+2:] // fields after "comm"
	f := strings.Fields(s)
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st, nil
}

// rssKB reads VmRSS and VmHWM (peak) of a process in kB.
func rssKB(pid int) (rss, hwm int64) {
	buf, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(buf), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseInt(f[1], 10, 64)
		case "VmHWM:":
			hwm, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return rss, hwm
}

// pidFile reads a pid file of testenv (mariadbd.pid, redis.pid).
func pidFile(path string) int {
	buf, _ := os.ReadFile(path)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(buf)))
	return pid
}

// cpuMeter measures CPU time of the processes involved in a phase, as % of one core over the
// phase's wall time.
type cpuMeter struct {
	names []string
	pids  []int
	start []int64
	t0    time.Time
}

func (b *bench) meterCPU(extra map[string]int) *cpuMeter {
	m := &cpuMeter{t0: time.Now()}
	add := func(name string, pid int) {
		if pid <= 0 {
			return
		}
		t, err := cpuTicks(pid)
		if err != nil {
			return
		}
		m.names, m.pids, m.start = append(m.names, name), append(m.pids, pid), append(m.start, t)
	}
	add("mariadbd", pidFile(filepath.Join(b.dir, "mariadb", "mariadbd.pid")))
	add("redis-server", pidFile(filepath.Join(b.dir, "redis", "redis.pid")))
	add("bench harness", os.Getpid())
	for _, name := range []string{"shipsync", "sim-carrier", "canal"} {
		if pid, ok := extra[name]; ok {
			add(name, pid)
		}
	}
	return m
}

// perOrder renders the CPU milliseconds each process spent per order, for n orders.
func (m *cpuMeter) perOrder(n int) string {
	var parts []string
	var total float64
	for i, pid := range m.pids {
		t, err := cpuTicks(pid)
		if err != nil || m.names[i] == "bench harness" {
			continue
		}
		ms := float64(t-m.start[i]) * 10 / float64(n)
		total += ms
		parts = append(parts, fmt.Sprintf("%s %.2f", m.names[i], ms))
	}
	return fmt.Sprintf("CPU ms per order: %s; total %.2f ms, so %d CPUs fully ours would cap this at ~%.0f orders/s",
		strings.Join(parts, ", "), total, runtime.NumCPU(), float64(runtime.NumCPU())*1000/total)
}

// String renders "shipsync 95%, mariadbd 60%, ..." since the meter started.
func (m *cpuMeter) String() string {
	wall := time.Since(m.t0).Seconds()
	var parts []string
	for i, pid := range m.pids {
		t, err := cpuTicks(pid)
		if err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", m.names[i], float64(t-m.start[i])/100/wall*100))
	}
	return "CPU (% of one core) " + strings.Join(parts, ", ")
}
