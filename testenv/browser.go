package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the headless browser's path. Missing, it fails the test (make test installs
// it), except under -short.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testing.Short() {
		t.Skip("chromium not installed")
	}
	t.Fatal("install chromium (apt-get install chromium; deploy/install-tools.sh does)")
	return ""
}

// Browser starts a headless Chromium driven over the DevTools protocol (chromedp) and returns a
// context for chromedp.Run, ended with the test. Chromium runs in a fresh profile, without its
// background connections (this machine's network is closed) and with a 1400x1000 window; the
// context times out after timeout. extra options follow these (chromedp.Env, say).
func Browser(t testing.TB, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 1000),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// ClickNow finds the element at xpath and clicks it within one evaluation in the page: the
// panels are drawn anew every few seconds, so a node found by one DevTools call may be gone by
// the next. The click itself runs after the evaluation returns, so a confirm() it opens does not
// hold the call.
func ClickNow(xpath string) chromedp.Action[chromedp.Void] {
	js := `(() => {
		const el = document.evaluate(` + strconv.Quote(xpath) + `, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		if (!el) return 'not found';
		setTimeout(() => el.click(), 0);
		return 'clicked';
	})()`
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		got, err := chromedp.Evaluate[string](js, chromedp.EvalAsValue)(ctx, t)
		if err == nil && got != "clicked" {
			err = fmt.Errorf("click %s: %s", xpath, got)
		}
		return chromedp.Void{}, err
	}
}
