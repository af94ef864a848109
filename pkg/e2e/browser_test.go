//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium driven through the DevTools protocol.
type browser struct {
	t   *testing.T
	dir string
	ctx context.Context
}

// startBrowser starts Chromium with the flags a closed network needs (no
// background connections) and a fresh profile; it logs in to the daemon
// with basic auth on every request.
func startBrowser(t *testing.T, dir string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(*chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(filepath.Join(dir, "chromium-profile")),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	auth := base64.StdEncoding.EncodeToString([]byte(webUser + ":" + webPassword))
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Basic " + auth}})
		return err
	})); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return &browser{t: t, dir: dir, ctx: ctx}
}

// page loads u, and gives the page's text as the user sees it, the rows of
// its tables by the heading before each (a row is its cells' texts,
// tab-separated) and the path of a screenshot.
func (b *browser) page(u, name string) (text string, tables map[string][]string, shot string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitReady("body")); err != nil {
		b.t.Fatalf("chromium %s: %v", u, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		b.t.Fatalf("chromium %s: %v", u, err)
	}
	tables, err = chromedp.Run(ctx, chromedp.Evaluate[map[string][]string](`Object.fromEntries(
		Array.from(document.querySelectorAll("h2 + table"), t => [t.previousElementSibling.innerText.trim(),
			Array.from(t.rows, r => Array.from(r.cells, c => c.innerText.replace(/\s+/g, " ").trim()).join("\t"))]))`))
	if err != nil {
		b.t.Fatalf("chromium %s: %v", u, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("chromium %s: screenshot: %v", u, err)
	}
	shot = filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return text, tables, shot
}
