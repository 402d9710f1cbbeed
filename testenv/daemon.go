package testenv

import (
	"cmp"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shipsync/shipsync/testenv/demo"
)

// TestAppKey is the Kdniao app key tests give the simulator and the daemon.
const TestAppKey = "test-appkey-0001"

// BuildShipsync builds the shipsync binary into a temporary directory and returns its path.
func BuildShipsync(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "shipsync")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/shipsync")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// WriteConfig turns the root config.yaml into one for a test's database, Redis prefix and
// carrier URL (and any further text replacements), failing if a line it rewrites has moved.
func WriteConfig(t testing.TB, dbName, prefix, carrierURL string, extra ...[2]string) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	text, err := RenderConfig(root, ConfigTarget{DB: dbName, Prefix: prefix, CarrierURL: carrierURL,
		MySQLAddr: MySQLAddr(), RedisAddr: RedisAddr(), Listen: "127.0.0.1:0"},
		append([][2]string{{"interval: 5s", "interval: 200ms"}}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ConfigTarget is where a config rendered from the root config.yaml points.
type ConfigTarget struct {
	DB, Prefix, CarrierURL, MySQLAddr, RedisAddr, Listen string
	// Admin is admin.listen (status page, metrics, health); "127.0.0.1:0" when empty.
	Admin string
}

// RenderConfig returns the root config.yaml (under root) pointed at target, with a random
// replication server_id and any further text replacements; it fails if a line it rewrites has
// moved. WriteConfig uses it for tests, the bench harness for its daemons.
func RenderConfig(root string, target ConfigTarget, extra ...[2]string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "config.yaml"))
	if err != nil {
		return "", err
	}
	text := string(raw)
	for _, r := range append([][2]string{
		{"shipsync_demo", target.DB},
		{`prefix: "shipsync:"`, fmt.Sprintf("prefix: %q", target.Prefix)},
		{"server_id: 4201", fmt.Sprintf("server_id: %d", 100000+rand.Uint32N(1<<30))},
		{"http://127.0.0.1:8700", target.CarrierURL},
		{"listen: 127.0.0.1:9464", "listen: " + target.Listen},
		{"listen: 127.0.0.1:9465", "listen: " + cmp.Or(target.Admin, "127.0.0.1:0")},
		{"addr: 127.0.0.1:23306", "addr: " + target.MySQLAddr},
		{"addr: 127.0.0.1:26379", "addr: " + target.RedisAddr},
	}, extra...) {
		if !strings.Contains(text, r[0]) {
			return "", fmt.Errorf("config.yaml no longer contains %q", r[0])
		}
		text = strings.ReplaceAll(text, r[0], r[1])
	}
	return text, nil
}

// Daemon runs `shipsync run` as a real process, so tests can kill it for real. Its output
// goes to a log file that is shown when the test fails.
type Daemon struct {
	t    testing.TB
	bin  string
	conf string
	logs string
	cmd  *exec.Cmd
	runs int
	// Args are added to "run --config FILE", e.g. "--log-level", "debug".
	Args []string
}

// NewDaemon prepares a daemon; Start runs it. It is killed at cleanup if still running.
func NewDaemon(t testing.TB, bin, conf string) *Daemon {
	d := &Daemon{t: t, bin: bin, conf: conf, logs: filepath.Join(t.TempDir(), "daemon.log")}
	t.Cleanup(func() {
		if d.Running() {
			d.cmd.Process.Kill() //nolint:errcheck
			d.cmd.Wait()         //nolint:errcheck
		}
		if t.Failed() {
			d.dumpLogs()
		}
	})
	return d
}

// Start runs the daemon with the secrets tests use in its environment.
func (d *Daemon) Start() {
	d.t.Helper()
	d.runs++
	f, err := os.OpenFile(d.logs, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "---- start %d\n", d.runs)
	d.cmd = exec.Command(d.bin, append([]string{"run", "--config", d.conf}, d.Args...)...)
	d.cmd.Stderr, d.cmd.Stdout = f, f
	d.cmd.Env = append(os.Environ(), "SHOP_DB_PASSWORD="+MySQLPassword(),
		"KDNIAO_APP_KEY="+TestAppKey, "KDNIAO_EBUSINESS_ID=test-ebusiness")
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
}

// Running reports whether the daemon process is running.
func (d *Daemon) Running() bool { return d.cmd != nil && d.cmd.ProcessState == nil }

// Signal sends sig to the running daemon (SIGHUP: reload its config).
func (d *Daemon) Signal(sig syscall.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
}

// Stop sends sig and waits for the process to end, returning its exit error.
func (d *Daemon) Stop(sig syscall.Signal) error {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
	return d.cmd.Wait()
}

func (d *Daemon) dumpLogs() {
	b, _ := os.ReadFile(d.logs)
	if dir := os.Getenv("SHIPSYNC_TEST_LOGS"); dir != "" {
		// The whole log, for flakes the tail does not explain.
		name := fmt.Sprintf("%s-%s.log", strings.ReplaceAll(d.t.Name(), "/", "_"), filepath.Base(filepath.Dir(d.logs)))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			d.t.Logf("SHIPSYNC_TEST_LOGS: %v", err)
		}
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	d.t.Logf("daemon log (tail):\n%s", strings.Join(lines, "\n"))
}

// DemoShop is a database of the test's own holding the demo ECShop schema (testenv/demo) with n
// unpaid orders; it returns the database, its name and the orders' keys.
func DemoShop(t testing.TB, n int) (*sql.DB, string, []int64) {
	t.Helper()
	db, name := NewDatabase(t)
	if err := demo.LoadSchema(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	ids, err := demo.Seed(t.Context(), db, n, 1)
	if err != nil {
		t.Fatal(err)
	}
	return db, name, ids
}
