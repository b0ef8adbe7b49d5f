package cli_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/cli"
)

// TestInitialLoadCommand: the command publishes one initial-load CorpEvent
// per corporation, prints plain progress lines when not on a terminal,
// sets the watermark; a re-run needs --yes; an active poller's lock stops
// it, or with --wait delays it until the lock is free.
func TestInitialLoadCommand(t *testing.T) {
	w := newOpsWorld(t)
	src := testenv.Pool(t, w.srcURL)
	rows, _ := src.Query(w.ctx, `SELECT DISTINCT corp_num COLLATE "C" FROM bc_registries.corporation WHERE btrim(corp_num) <> '' ORDER BY 1`)
	corps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := run(t, "initial-load", "--page", "10")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "initial load: 52 of 52 corporations done") || strings.Contains(stderr, "\r") {
		t.Errorf("progress on a non-terminal: want plain lines ending with the final count:\n%s", stderr)
	}
	newest := w.newestEvent()
	if !strings.Contains(stdout, "initial load run 1 finished: 52 corporations published") {
		t.Errorf("stdout:\n%s", stdout)
	}
	var published []string
	for _, m := range w.stream(bus.StreamEvents) {
		ev, _ := messages.DecodeCorpEvent(m.Data)
		if ev.Reason != messages.ReasonInitialLoad || ev.Last.EventID != newest.EventID || m.Header.Get("Nats-Msg-Id") != messages.InitialLoadMsgID("BC_REG", ev.CorpNum, 1) {
			t.Errorf("%s: reason %s, last %d, id %s", ev.CorpNum, ev.Reason, ev.Last.EventID, m.Header.Get("Nats-Msg-Id"))
		}
		published = append(published, ev.CorpNum)
	}
	if diff := cmp.Diff(corps, published); diff != "" {
		t.Errorf("published corporations, in order (-want +got):\n%s", diff)
	}
	if wm, ok, _ := discovery.CurrentWatermark(w.ctx, w.edb, "BC_REG"); !ok || wm != newest {
		t.Errorf("watermark %+v, want %+v", wm, newest)
	}

	// A re-run publishes everything again: it needs --yes.
	if code, _, stderr := run(t, "initial-load"); code != 2 || !strings.Contains(stderr, "--yes") {
		t.Errorf("re-run without --yes: exit %d\n%s", code, stderr)
	}
	// The poller's lock held (an active poller): refused, or waited for.
	lock, ok, err := eventdb.TryLock(w.ctx, w.edb, eventdb.LockKey(eventdb.LockPoller, "BC_REG"))
	if err != nil || !ok {
		t.Fatalf("take the poller lock: %v %v", ok, err)
	}
	defer lock.Release(context.Background()) // on failure: the pool closes only once it is back
	if code, _, stderr := run(t, "initial-load", "--yes"); code != 1 || !strings.Contains(stderr, "poller lock is held") {
		t.Errorf("with the lock held: exit %d\n%s", code, stderr)
	}
	// --wait: once it reported the lock held it has been refused at least
	// once; it publishes only after the lock is released (the embedded
	// server stamps stored messages with this process's clock).
	asked := &watchWriter{want: "waiting for the poller lock", seen: make(chan struct{})}
	var waitOut bytes.Buffer
	finished := make(chan int, 1)
	go func() {
		finished <- cli.Run(context.Background(), []string{"initial-load", "--yes", "--wait"}, &waitOut, asked)
	}()
	select {
	case <-asked.seen:
	case code := <-finished:
		t.Fatalf("--wait ended (exit %d) while the lock was held\n%s", code, asked)
	case <-time.After(time.Minute):
		t.Fatal("--wait did not report the held lock within a minute")
	}
	if n := len(w.stream(bus.StreamEvents)); n != len(corps) {
		t.Errorf("published %d messages while the lock was held", n-len(corps))
	}
	released := time.Now()
	lock.Release(w.ctx)
	var waited int
	select {
	case waited = <-finished:
	case <-time.After(time.Minute):
		t.Fatal("--wait did not finish within a minute of the lock's release")
	}
	if waited != 0 || !strings.Contains(waitOut.String(), "initial load run 2 finished: 52") {
		t.Errorf("--wait: exit %d\n%s\n%s", waited, waitOut.String(), asked)
	}
	for _, m := range w.stream(bus.StreamEvents)[len(corps):] {
		if m.Time.Before(released) {
			t.Errorf("--wait published %s before the lock was released", m.Header.Get("Nats-Msg-Id"))
			break
		}
	}
	if diff := cmp.Diff([]string{"initial-load BC_REG run 1 52", "initial-load BC_REG run 2 52"}, w.actions()); diff != "" {
		t.Errorf("operator_action (-want +got):\n%s", diff)
	}
}

// watchWriter collects output written from another goroutine and closes
// seen once it contains want.
type watchWriter struct {
	want string
	seen chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	n, err := w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return n, err
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
