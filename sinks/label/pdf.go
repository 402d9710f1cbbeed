package label

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// chromiumEnv names the variable that overrides where Chromium is.
const chromiumEnv = "SHIPSYNC_CHROMIUM"

// chromiumNames are the browser's names on PATH, in the order Chromium tries them: Debian's,
// older Ubuntu's, then Google's build.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// Chromium returns the path of the browser PDF runs: $SHIPSYNC_CHROMIUM (a path or a name on
// PATH) when set, else the first of chromium, chromium-browser and google-chrome on PATH. Its
// error wraps exec.ErrNotFound (or the reason $SHIPSYNC_CHROMIUM cannot be run).
func Chromium() (string, error) {
	if v := os.Getenv(chromiumEnv); v != "" {
		// Set but unusable is a mistake to report, not a reason to print with another browser.
		p, err := exec.LookPath(v)
		if err != nil {
			return "", fmt.Errorf("find chromium: %s=%s: %w", chromiumEnv, v, err)
		}
		return p, nil
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("find chromium: none of %s on PATH and %s not set: %w",
		strings.Join(chromiumNames, ", "), chromiumEnv, exec.ErrNotFound)
}

const (
	// frameBudget is the virtual time Chromium gives the page before printing, so that a
	// template's images and scripts have loaded and run in its frame before the PDF is taken.
	// --run-all-compositor-stages-before-draw would be the other way and costs four times as
	// long: 44 s against 11 s for 50 labels.
	frameBudget = "5000"
	// stderrTail bounds how much of Chromium's stderr an error carries: its own failure is at
	// the end, after lines of D-Bus and GPU noise.
	stderrTail = 4 << 10
	// waitDelay bounds how long PDF waits, once Chromium is killed, for helper processes that
	// still hold its stderr.
	waitDelay = 5 * time.Second
)

// PDF renders html, a Compose output, to PDF with the headless Chromium at path chromium
// (see Chromium) and returns the PDF. It blocks until Chromium exits; give ctx a deadline,
// because Chromium is killed only when ctx ends. Each call runs its own Chromium in a fresh
// temporary profile and removes it afterwards, so calls may run concurrently. Its error
// carries the tail of Chromium's stderr.
func PDF(ctx context.Context, chromium string, html []byte) ([]byte, error) {
	if len(html) == 0 {
		return nil, errors.New("print labels to pdf: no html")
	}
	dir, err := os.MkdirTemp("", "shipsync-label-")
	if err != nil {
		return nil, fmt.Errorf("print labels to pdf: %w", err)
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "labels.html")
	out := filepath.Join(dir, "labels.pdf")
	home := filepath.Join(dir, "home")
	tmp := filepath.Join(dir, "tmp")
	if err := os.WriteFile(in, html, 0o600); err != nil {
		return nil, fmt.Errorf("print labels to pdf: %w", err)
	}
	for _, d := range []string{home, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, fmt.Errorf("print labels to pdf: %w", err)
		}
	}

	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--virtual-time-budget="+frameBudget,
		"--no-pdf-header-footer", "--print-to-pdf="+out,
		(&url.URL{Scheme: "file", Path: filepath.ToSlash(in)}).String())
	// Chromium writes caches and NSS databases under HOME, and its singleton socket under
	// TMPDIR, which only a clean exit removes: both go where os.RemoveAll finds them, even
	// after Chromium was killed.
	cmd.Env = append(os.Environ(), "HOME="+home, "TMPDIR="+tmp)
	stderr := &tail{max: stderrTail}
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		// A killed Chromium says only "signal: killed"; say why it was killed.
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		return nil, fmt.Errorf("print labels to pdf: %s: %w; stderr: %s", chromium, err, stderr)
	}
	pdf, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("print labels to pdf: %s wrote no pdf: %w; stderr: %s", chromium, err, stderr)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return nil, fmt.Errorf("print labels to pdf: %s wrote %d bytes that are not a pdf; stderr: %s", chromium, len(pdf), stderr)
	}
	return pdf, nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
	cut bool // bytes were dropped from the front
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
		t.cut = true
	}
	return len(p), nil
}

// String is the kept text, trimmed, or "(empty)". When bytes were dropped it starts with "…"
// and at the first whole line kept, or, in one long line, at the first whole character.
func (t *tail) String() string {
	b := t.buf
	if t.cut {
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
		for len(b) > 0 && !utf8.RuneStart(b[0]) {
			b = b[1:]
		}
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	switch {
	case s == "":
		return "(empty)"
	case t.cut:
		return "…" + s
	}
	return s
}
