package console

import (
	"bytes"
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
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/dlqops"
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
	// PayloadError says why the original bytes cannot be shown (a large
	// dead letter whose copy is gone, or that kept none).
	PayloadError string
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
	d := dlqEntryData{Entry: en}
	if payload, err := bus.DLQPayload(r.Context(), s.opt.JS, en.DeadLetter); err != nil {
		d.PayloadError = err.Error()
	} else {
		d.Payload = prettyJSON(payload)
	}
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
	entries, err := dlqops.Select(ctx, s.opt.JS, f, r.PostForm["seq"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	done, failures, err := dlqops.Act(ctx, s.opt.JS, s.opt.DB, action, entries, f, s.opt.Backoff, "console "+r.RemoteAddr)
	failed := err
	if len(failures) > 0 {
		failed = failures[0].Err
	}
	if failed != nil {
		s.fail(w, r, fmt.Errorf("%s: %d of %d done: %w", action, len(done), len(entries), failed))
		return
	}
	verb := map[string]string{"requeue": "requeued", "purge": "purged"}[action]
	http.Redirect(w, r, "/dlq?done="+url.QueryEscape(fmt.Sprintf("%s %d of %d dead letters", verb, len(done), len(entries))), http.StatusSeeOther)
}
