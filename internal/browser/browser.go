// Package browser starts Debian's headless Chromium under chromedp for
// connectware's real-browser tests.
package browser

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connectware/connectware/internal/testkit"
)

// Browser is a headless Chromium process with one tab per Run.
type Browser struct {
	ctx context.Context
}

// New starts headless Chromium (found as "chromium" on PATH; CHROMIUM_PATH
// overrides). The browser is stopped with t.Cleanup. Without Chromium the
// test fails in CI and is skipped elsewhere.
func New(tb testing.TB) *Browser {
	tb.Helper()
	path := os.Getenv("CHROMIUM_PATH")
	if path == "" {
		path = testkit.NeedTool(tb, "chromium", "apt-get install chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-default-apps", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		tb.Fatalf("browser: start chromium: %v", err)
	}
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &Browser{ctx: ctx}
}

// Eval opens url in a new tab, waits for it to load, evaluates the
// JavaScript expression script (a promise is awaited) and returns its
// JSON-decoded result.
func Eval[T any](tb testing.TB, b *Browser, url, script string) T {
	tb.Helper()
	tab, cancel := chromedp.NewContext(b.ctx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tb.Fatalf("browser: navigate to %s: %v", url, err)
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("browser: evaluate on %s: %v", url, err)
	}
	return v
}
