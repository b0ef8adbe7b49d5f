package console_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bcgov/bcreg-events/pkg/audit"
	"github.com/bcgov/bcreg-events/pkg/bus"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium with a fresh profile, or skips loudly
// when it is not installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("SKIPPING BROWSER TEST: " + chromiumPath + " not found; install it as root: apt-get update && apt-get install -y chromium")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 860),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelT)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshot writes docs/console/NAME.png when BCREG_CONSOLE_SCREENSHOTS=1.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("BCREG_CONSOLE_SCREENSHOTS") != "1" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "..", "..", "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", filepath.Join(dir, name+".png"), len(png))
}

func TestBrowser(t *testing.T) {
	ctx := browser(t)
	f := newFixture(t, true, nil)
	if err := chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+"/"), chromedp.WaitVisible(`#stage-agent`)); err != nil {
		t.Fatal(err)
	}
	stages := evalInt(t, ctx, `document.querySelectorAll("li.stage").length`)
	charts := evalInt(t, ctx, `document.querySelectorAll("#lag-chart polyline, #posted-chart rect.bar").length`)
	behind, err := chromedp.Run(ctx, chromedp.Text(`[data-behind]`))
	if err != nil {
		t.Fatal(err)
	}
	if stages != 7 || charts < 61 || behind == "" {
		t.Errorf("overview: %d stages, %d chart marks, behind %q; want 7 stages, a lag line and 60 bars", stages, charts, behind)
	}
	screenshot(t, ctx, "overview")

	// A request without the token is refused, from the page itself.
	if err := chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+"/dlq"), chromedp.WaitVisible(`#dlq-table`)); err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/dlq/purge", {method: "POST",
		headers: {"Content-Type": "application/x-www-form-urlencoded"},
		body: "confirm=yes&csrf=" + document.querySelector("input[name=csrf]").value}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if status != 403 {
		t.Errorf("POST without the token: %d, want 403", status)
	}
	screenshot(t, ctx, "dead-letters")

	// Requeue the builder's dead letter from its page: it goes back to
	// BCREG_EVENTS; then purge the rest from the list: the DLQ is empty.
	before := streamMsgs(t, f, bus.StreamEvents)
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.ts.URL+"/dlq/"+strconv.FormatUint(f.seqs["builder"], 10)),
		chromedp.SendKeys(`#one-requeue input[name=token]`, testToken),
		chromedp.Click(`#one-requeue input[name=confirm]`),
		chromedp.Click(`#one-requeue button`),
		chromedp.WaitVisible(`.flash`),
	)
	if err != nil {
		t.Fatal(err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(`.flash`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(flash, "requeued 1 of 1") {
		t.Errorf("flash %q", flash)
	}
	if got := streamMsgs(t, f, bus.StreamEvents); got != before+1 {
		t.Errorf("BCREG_EVENTS: %d messages, want %d", got, before+1)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`#bulk-purge input[name=token]`, testToken),
		chromedp.Click(`#bulk-purge input[name=confirm]`),
		chromedp.Click(`#bulk-purge button`),
		chromedp.WaitVisible(`#dlq-count[data-count="0"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if left, err := bus.ListDLQ(f.ctx, f.js, bus.DLQFilter{}, 0); err != nil || len(left) != 0 {
		t.Errorf("DLQ after requeue and purge: %d entries, %v", len(left), err)
	}

	// The corporation page with what generate would issue.
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.ts.URL+"/corp"),
		chromedp.SendKeys(`input[name=num]`, f.corp),
		chromedp.Submit(`input[name=num]`),
		chromedp.WaitVisible(`#credentials`),
	)
	if err != nil {
		t.Fatal(err)
	}
	previewRows := evalInt(t, ctx, `document.querySelectorAll("#preview tbody tr").length`)
	if previewRows == 0 {
		t.Error("no generate preview rows")
	}
	screenshot(t, ctx, "corporation")
}

func evalInt(t *testing.T, ctx context.Context, js string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return n
}

// TestBrowserNarrowWindowAndAccessibility opens each page in a phone-sized
// viewport: nothing overflows the window sideways (wide tables scroll in
// their own box), and the basics a screen reader needs hold: a language,
// one h1, a label for every visible form control, a name for every chart
// and button.
func TestBrowserNarrowWindowAndAccessibility(t *testing.T) {
	ctx := browser(t)
	f := newFixture(t, true, nil)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	pages := []struct{ name, path, ready string }{
		{"overview", "/", "#stage-agent"},
		{"dead letters", "/dlq", "#dlq-table"},
		{"dead letter", "/dlq/" + strconv.FormatUint(f.seqs["builder"], 10), "#one-requeue"},
		{"corporation", "/corp?num=" + f.corp, "#credentials"},
		{"audit", "/audit", "#audit-findings"},
	}
	recordAudit(t, f, "bcregctl", nil)
	recordAudit(t, f, "event-poller", []audit.Finding{{CorpNum: f.corp, SourceID: "BC" + f.corp[1:], Check: audit.CheckName,
		Expected: "A LONG LEGAL NAME OF A CORPORATION LIMITED", Found: "ANOTHER RATHER LONG NAME LIMITED"}})
	const audit = `(() => {
  const problems = [];
  const de = document.documentElement;
  if (de.scrollWidth > window.innerWidth + 1) problems.push("page is " + de.scrollWidth + "px wide in a " + window.innerWidth + "px window");
  if (!de.lang) problems.push("no lang on <html>");
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(h1 + " h1 elements");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!named) problems.push("unlabelled " + el.tagName.toLowerCase() + " " + (el.name || el.id));
  }
  for (const el of document.querySelectorAll("button, a")) {
    if (!(el.textContent.trim() || el.getAttribute("aria-label"))) problems.push("nameless " + el.tagName.toLowerCase());
  }
  for (const el of document.querySelectorAll("svg")) {
    if (!(el.getAttribute("aria-labelledby") || el.getAttribute("aria-label") || el.getAttribute("aria-hidden") === "true")) problems.push("svg without a name: " + el.id);
  }
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > window.innerWidth + 1 && !el.closest(".scroll, .payload")) {
      problems.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + el.className : "") + " reaches " + Math.round(r.right) + "px");
      break;
    }
  }
  return problems;
})()`
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+p.path), chromedp.WaitVisible(p.ready)); err != nil {
				t.Fatal(err)
			}
			problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](audit))
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range problems {
				t.Error(pr)
			}
			if p.path == "/" {
				screenshot(t, ctx, "overview-narrow")
			}
		})
	}
}
