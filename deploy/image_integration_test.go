package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// imageUID is the Dockerfile's USER, which the exported entrypoint is run as.
const imageUID = 65532

// imageFiles is everything the image may hold: the binary and the CA bundle, with their dirs.
var imageFiles = []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt", "shipsync"}

// TestImage builds the container image as `make image` does (deploy/build-image.sh, podman, no
// registry), checks its config and that its filesystem holds only the static binary and the CA
// bundle, then runs it against the testenv MariaDB and Redis and a carrier simulator: the
// exported entrypoint as a non-root user, and the container itself under `podman run` where that
// works (crun refuses cgroup v1/hybrid hosts; runc and no default ulimits get past that; make
// image-test sets SHIPSYNC_IMAGE_RUN=1 to fail instead of skip). Each run must ship an order (the
// simulator's waybill in the shop row) and answer /readyz.
func TestImage(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed and this test does not install it: run `bash deploy/install-tools.sh` " +
			"as root (make test and make image-test do), or apt-get install podman runc")
	}
	testenv.RequireMySQL(t) // skips with -short; fails with "start it" when the testenv is down
	testenv.RequireRedis(t)
	t0 := time.Now()

	tag := fmt.Sprintf("localhost/shipsync-test:%08x", rand.Uint32())
	build := exec.CommandContext(t.Context(), "bash", buildImageScript, tag)
	var stderr bytes.Buffer
	build.Stderr = &stderr
	out, err := build.Output()
	if err != nil {
		t.Fatalf("bash %s %s: %v\n%s", buildImageScript, tag, err, stderr.Bytes())
	}
	t.Cleanup(func() { exec.Command(podman, "rmi", "--force", tag).Run() }) //nolint:errcheck // best effort
	t.Logf("%v: built %s (%s)", time.Since(t0).Round(time.Millisecond), tag, bytes.TrimSpace(out))

	checkImageConfig(t, podman, tag)
	root := exportImage(t, podman, tag)
	t.Logf("%v: exported", time.Since(t0).Round(time.Millisecond))

	t.Run("exported entrypoint", func(t *testing.T) {
		shipWith(t, func(t *testing.T, conf string, env []string) (int, func() error) {
			return runExported(t, root, conf, env)
		})
	})
	t.Logf("%v: exported entrypoint done", time.Since(t0).Round(time.Millisecond))
	t.Run("podman run", func(t *testing.T) {
		args := podmanRunArgs(t, podman, tag)
		shipWith(t, func(t *testing.T, conf string, env []string) (int, func() error) {
			return runContainer(t, podman, args, tag, conf, env)
		})
	})
	t.Logf("%v: done", time.Since(t0).Round(time.Millisecond))
}

// checkImageConfig checks what the image runs: the Dockerfile's user, command and ports.
func checkImageConfig(t *testing.T, podman, tag string) {
	t.Helper()
	var inspect []struct {
		Config struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			ExposedPorts map[string]struct{}
		}
	}
	if err := json.Unmarshal([]byte(run(t, nil, podman, "image", "inspect", tag)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect %s: %v (%d images)", tag, err, len(inspect))
	}
	c := inspect[0].Config
	want := strconv.Itoa(imageUID)
	if c.User != want+":"+want {
		t.Errorf("image user %q, want %s:%s", c.User, want, want)
	}
	if !slices.Equal(c.Entrypoint, []string{"/shipsync"}) || !slices.Equal(c.Cmd, []string{"run", "--config", "/etc/shipsync/config.yaml"}) {
		t.Errorf("image runs %q %q, want /shipsync run --config /etc/shipsync/config.yaml", c.Entrypoint, c.Cmd)
	}
	for _, p := range []string{"9464/tcp", "9465/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("image exposes %v, want %s", c.ExposedPorts, p)
		}
	}
}

// exportImage writes the image's filesystem (podman create + export) to a tar, checks that it
// holds exactly imageFiles, root-owned and not writable by the image's user, and that the binary
// is static, and extracts it into a directory the image's user can enter, which it returns.
func exportImage(t *testing.T, podman, tag string) string {
	t.Helper()
	ctr := strings.TrimSpace(run(t, nil, podman, "create", tag))
	defer exec.Command(podman, "rm", "--force", ctr).Run() //nolint:errcheck // best effort
	dir := t.TempDir()
	tarPath := filepath.Join(dir, "image.tar")
	run(t, nil, podman, "export", "--output", tarPath, ctr)

	root := filepath.Join(dir, "root")
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", tarPath, err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Mode&0o022 != 0 {
			t.Errorf("%s: owner %d, mode %o: want root's and not writable by others", h.Name, h.Uid, h.Mode)
		}
		path := filepath.Join(root, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			err = writeExported(path, tr, h.FileInfo().Mode().Perm())
		default:
			t.Errorf("%s: tar entry type %q, want only directories and regular files", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, imageFiles) {
		t.Errorf("image files %q, want exactly %q", names, imageFiles)
	}
	bin := filepath.Join(root, "shipsync")
	exe, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("/shipsync in the image: %v", err)
	}
	defer exe.Close()
	for _, p := range exe.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/shipsync in the image is dynamically linked: a scratch image has no libc or loader")
		}
	}
	if pem, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")); err != nil || !bytes.Contains(pem, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("CA bundle in the image: %v, %d bytes without a certificate", err, len(pem))
	}
	openToAll(t, dir)
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// openToAll lets the image's user enter dir, a t.TempDir: it and its parent are 0700.
func openToAll(t *testing.T, dir string) {
	t.Helper()
	for _, p := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeExported(path string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// starter starts shipsync with a config file and environment; it returns the process's host pid
// and a function that stops it with SIGTERM and reports how it exited.
type starter func(t *testing.T, conf string, env []string) (pid int, stop func() error)

// shipWith runs shipsync (through start) on a fresh demo shop, Redis prefix and carrier
// simulator, pays one order and waits for the simulator's waybill in the shop row and a 200 from
// /readyz; the process must run as a non-root user and stop cleanly on SIGTERM.
func shipWith(t *testing.T, start starter) {
	ctx := t.Context()
	db, name, ids := testenv.DemoShop(t, 1)
	rdb, prefix := testenv.RequireRedis(t)
	carrier := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey})
	srv := httptest.NewServer(carrier)
	defer srv.Close()
	conf, readyz := imageConfig(t, testenv.WriteConfig(t, name, prefix, srv.URL))

	pid, stop := start(t, conf, []string{"SHOP_DB_PASSWORD=" + testenv.MySQLPassword(),
		"KDNIAO_APP_KEY=" + testenv.TestAppKey, "KDNIAO_EBUSINESS_ID=test-ebusiness"})
	// As root this test runs it as the image's user; as another user, as that user.
	want := strconv.Itoa(imageUID)
	if os.Geteuid() != 0 {
		want = strconv.Itoa(os.Geteuid())
	}
	if uids := processUIDs(t, pid); !slices.Equal(uids, []string{want, want, want, want}) {
		t.Errorf("shipsync runs with uids %q (real, effective, saved, fs), want %s", uids, want)
	}
	// Pay once it tails the binlog, so that the order comes from the stream, not the backfill.
	store := state.New(rdb, prefix)
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := store.LoadCheckpoint(ctx)
		return ok, fmt.Sprintf("no checkpoint yet (err %v)", err)
	})
	if err := demo.Pay(ctx, db, ids); err != nil {
		t.Fatal(err)
	}
	var code, waybill string
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		err := db.QueryRowContext(ctx, "SELECT order_sn, invoice_no FROM ecs_order_info WHERE order_id = ?", ids[0]).Scan(&code, &waybill)
		return err == nil && waybill != "", fmt.Sprintf("order %d not shipped yet (%v)", ids[0], err)
	})
	if want, ok := carrier.Waybill(code); !ok || waybill != want {
		t.Errorf("order %s: shop waybill %q, simulator's %q (%v)", code, waybill, want, ok)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	testenv.Eventually(t, 15*time.Second, 50*time.Millisecond, func() (bool, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, readyz, nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, fmt.Sprintf("GET %s: %v", readyz, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("GET %s: %s %s", readyz, resp.Status, body)
	})
	if err := stop(); err != nil {
		t.Errorf("SIGTERM: %v, want a clean exit", err)
	}
}

// listenLine is a section's listen key in the rendered config.yaml, two spaces in.
var listenLine = regexp.MustCompile(`(?m)^  listen: \S+`)

// imageConfig copies a config rendered by testenv.WriteConfig to a file the image's user can
// read, with free loopback ports for http.listen and (when the config has it) admin.listen, and
// returns it with the /readyz URL: on admin.listen if there is one, else on http.listen.
func imageConfig(t *testing.T, rendered string) (string, string) {
	t.Helper()
	text, err := os.ReadFile(rendered)
	if err != nil {
		t.Fatal(err)
	}
	var sections map[string]yaml.Node
	if err := yaml.Unmarshal(text, &sections); err != nil {
		t.Fatalf("rendered config: %v", err)
	}
	readyz := ""
	for _, section := range []string{"http", "admin"} {
		node, ok := sections[section]
		if !ok {
			continue
		}
		addr := testenv.FreeAddr(t)
		text = setListen(t, text, node.Line, section, addr)
		readyz = "http://" + addr + "/readyz"
	}
	if readyz == "" {
		t.Fatal("rendered config has no http section")
	}
	dir := t.TempDir()
	openToAll(t, dir)
	conf := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(conf, text, 0o644); err != nil { //nolint:gosec // read by the image's user; holds no secret
		t.Fatal(err)
	}
	return conf, readyz
}

// setListen replaces the first listen line after line (1-based) of the section's key.
func setListen(t *testing.T, text []byte, line int, section, addr string) []byte {
	t.Helper()
	off := 0
	for range line - 1 {
		off += bytes.IndexByte(text[off:], '\n') + 1
	}
	loc := listenLine.FindIndex(text[off:])
	if loc == nil {
		t.Fatalf("rendered config: no %s.listen", section)
	}
	out := slices.Clone(text[:off+loc[0]])
	out = append(out, "  listen: "+addr...)
	return append(out, text[off+loc[1]:]...)
}

// processUIDs returns the Uid line of /proc/pid/status: real, effective, saved and fs uid.
func processUIDs(t *testing.T, pid int) []string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("shipsync process %d: %v", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("/proc/%d/status has no Uid line", pid)
	return nil
}

// runExported runs the exported /shipsync with the image's command and only the given
// environment, as the image's user when this test runs as root (as itself otherwise, which is
// already not root). testenv.Daemon cannot set the user, hence this runner.
func runExported(t *testing.T, root, conf string, env []string) (int, func() error) {
	t.Helper()
	logs, err := os.Create(filepath.Join(t.TempDir(), "shipsync.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "shipsync"), "run", "--config", conf)
	cmd.Dir = root
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logs, logs
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: imageUID, Gid: imageUID, NoSetGroups: true}}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the exported /shipsync: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop := func() error {
		stopped = true
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return err
		}
		select {
		case err := <-done:
			return err
		case <-time.After(40 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			return errors.New("still running 40s after SIGTERM: killed")
		}
	}
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill() //nolint:errcheck
			<-done
		}
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("shipsync log:\n%s", tail(b, 60))
		}
	})
	return cmd.Process.Pid, stop
}

// podmanRunArgs finds podman flags with which `podman run` of the image works here, or skips
// (fails under SHIPSYNC_IMAGE_RUN=1). crun, podman's default runtime, fails on this kind of host
// twice: setrlimit RLIMIT_NOFILE for podman's default ulimits (a containers.conf with
// default_ulimits = [] passes that), then "cgroups in hybrid mode not supported"; runc runs it.
func podmanRunArgs(t *testing.T, podman, tag string) []string {
	t.Helper()
	dir := t.TempDir()
	confPath := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(confPath, []byte("[containers]\ndefault_ulimits = []\n"), 0o644); err != nil { //nolint:gosec // not secret
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_CONF", confPath)
	var tried []string
	for _, args := range [][]string{nil, {"--runtime", "runc"}} {
		probe := exec.CommandContext(t.Context(), podman, append(slices.Clone(args),
			"run", "--rm", "--network", "host", tag, "help")...)
		out, err := probe.CombinedOutput()
		if err == nil {
			return args
		}
		tried = append(tried, fmt.Sprintf("podman %s run: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out)))
	}
	msg := "podman run does not work on this host (the exported entrypoint was run instead):\n" + strings.Join(tried, "\n")
	if os.Getenv("SHIPSYNC_IMAGE_RUN") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return nil
}

// runContainer runs the image with its own command, the config mounted where that command reads
// it and the host's network (the testenv and the simulator listen on its loopback).
func runContainer(t *testing.T, podman string, flags []string, tag, conf string, env []string) (int, func() error) {
	t.Helper()
	name := fmt.Sprintf("shipsync-test-%08x", rand.Uint32())
	args := append(slices.Clone(flags), "run", "--detach", "--name", name, "--network", "host",
		"--volume", conf+":/etc/shipsync/config.yaml:ro")
	for _, e := range env {
		args = append(args, "--env", e)
	}
	run(t, nil, podman, append(args, tag)...)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command(podman, "logs", name).CombinedOutput()
			t.Logf("podman logs %s:\n%s", name, tail(out, 60))
		}
		exec.Command(podman, "rm", "--force", "--time", "1", name).Run() //nolint:errcheck // best effort
	})
	pid, err := strconv.Atoi(strings.TrimSpace(run(t, nil, podman, "inspect", "--format", "{{.State.Pid}}", name)))
	if err != nil || pid == 0 {
		t.Fatalf("container %s has no pid (%v)", name, err)
	}
	return pid, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, podman, "stop", "--time", "40", name).CombinedOutput(); err != nil {
			return fmt.Errorf("podman stop: %w: %s", err, out)
		}
		out, err := exec.CommandContext(ctx, podman, "inspect", "--format", "{{.State.ExitCode}}", name).Output()
		if code := strings.TrimSpace(string(out)); err != nil || code != "0" {
			return fmt.Errorf("container exited with %q (%v)", code, err)
		}
		return nil
	}
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
