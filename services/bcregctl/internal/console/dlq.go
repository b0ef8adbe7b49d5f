package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// dlqListLimit bounds the table; the filters narrow it further.
const dlqListLimit = 500

type dlqListData struct {
	Filter  bus.DLQFilter
	Entries []bus.DLQEntry
	Limited bool
	Stages  []string
}

func filterOf(v url.Values) bus.DLQFilter {
	return bus.DLQFilter{Stage: strings.TrimSpace(v.Get("stage")), CorpNum: strings.TrimSpace(v.Get("corp")),
		Reason: strings.TrimSpace(v.Get("reason"))}
}

func (s *Server) dlqList(w http.ResponseWriter, r *http.Request) {
	f := filterOf(r.URL.Query())
	entries, err := bus.ListDLQ(r.Context(), s.opt.JS, f, dlqListLimit+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := dlqListData{Filter: f, Entries: entries, Stages: []string{"builder", "poster", "mover"}}
	if len(entries) > dlqListLimit {
		d.Entries, d.Limited = entries[:dlqListLimit], true
	}
	s.render(w, r, "dlq", "Dead letters", d)
}

type dlqEntryData struct {
	Entry   bus.DLQEntry
	Headers []kvs
	Payload string
}

type kvs struct{ Key, Value string }

func (s *Server) dlqEntry(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		s.message(w, r, http.StatusBadRequest, "Bad request", "A dead letter's sequence is a number.")
		return
	}
	en, err := bus.GetDLQ(r.Context(), s.opt.JS, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		s.message(w, r, http.StatusNotFound, "Not found", fmt.Sprintf("Dead letter %d is not in %s (requeued or purged?).", seq, bus.StreamDLQ))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := dlqEntryData{Entry: en, Payload: prettyJSON(en.DeadLetter.PayloadBase64)}
	for k, vs := range en.DeadLetter.OriginalHeaders {
		d.Headers = append(d.Headers, kvs{k, strings.Join(vs, ", ")})
	}
	slices.SortFunc(d.Headers, func(a, b kvs) int { return strings.Compare(a.Key, b.Key) })
	s.render(w, r, "dlqentry", fmt.Sprintf("Dead letter %d", seq), d)
}

func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") == nil {
		return out.String()
	}
	return string(b)
}

// dlqAction requeues or purges the dead letters named by "seq" fields, or
// else every one the form's filter matches, as `bcregctl dlq` does.
func (s *Server) dlqAction(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if action != "requeue" && action != "purge" {
		s.message(w, r, http.StatusNotFound, "Not found", "Unknown action.")
		return
	}
	if !confirmed(r) {
		s.message(w, r, http.StatusBadRequest, "Not confirmed", "Tick the confirmation box to "+action+".")
		return
	}
	ctx := r.Context()
	f := filterOf(r.PostForm)
	entries, err := s.selectEntries(ctx, f, r.PostForm["seq"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	done, failed := ActOnDLQ(ctx, s.opt.JS, s.opt.DB, action, entries, f, s.opt.Backoff, "console "+r.RemoteAddr)
	if failed != nil {
		s.fail(w, r, fmt.Errorf("%s: %d of %d done: %w", action, len(done), len(entries), failed))
		return
	}
	verb := map[string]string{"requeue": "requeued", "purge": "purged"}[action]
	http.Redirect(w, r, "/dlq?done="+url.QueryEscape(fmt.Sprintf("%s %d of %d dead letters", verb, len(done), len(entries))), http.StatusSeeOther)
}

func (s *Server) selectEntries(ctx context.Context, f bus.DLQFilter, seqs []string) ([]bus.DLQEntry, error) {
	if len(seqs) == 0 {
		return bus.ListDLQ(ctx, s.opt.JS, f, 0)
	}
	var out []bus.DLQEntry
	for _, v := range seqs {
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("dead letter %q: not a sequence number", v)
		}
		en, err := bus.GetDLQ(ctx, s.opt.JS, seq)
		if err != nil {
			return nil, err
		}
		out = append(out, en)
	}
	return out, nil
}

// ActOnDLQ requeues (bus.RequeueDLQ) or purges (bus.DeleteDLQ) entries and
// records the action in operator_action like `bcregctl dlq`, with via
// naming the console. It returns the sequences done and the first error.
func ActOnDLQ(ctx context.Context, js jetstream.JetStream, db eventdb.Querier, action string, entries []bus.DLQEntry, f bus.DLQFilter, backoff bus.Backoff, via string) ([]uint64, error) {
	done := []uint64{}
	var firstErr error
	for _, en := range entries {
		var err error
		if action == "requeue" {
			err = bus.RequeueDLQ(ctx, js, en, backoff)
		} else {
			err = bus.DeleteDLQ(ctx, js, en.Seq)
		}
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		done = append(done, en.Seq)
	}
	target := fmt.Sprintf("BCREG_DLQ stage=%q corp=%q reason=%q", f.Stage, f.CorpNum, f.Reason)
	if _, err := eventdb.OperatorAction(ctx, db, "dlq-"+action, target, int64(len(done)), map[string]any{"dlq_seqs": done, "via": via}); err != nil {
		return done, cmpOr(firstErr, err)
	}
	return done, firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
