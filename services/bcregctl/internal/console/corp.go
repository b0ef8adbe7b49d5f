package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// corpRowLimit bounds each table of the corporation page.
const corpRowLimit = 200

// WorkItem is one event_by_corp_filing row.
type WorkItem struct {
	RecordID                     int64
	PrevEventID, LastEventID     int64
	PrevEventDate, LastEventDate time.Time
	Reason, Success, Msg         string
	EntryDate                    time.Time
	ProcessDate                  *time.Time
}

// CredentialRow is one credential_log row as the operator sees it.
type CredentialRow struct {
	RecordID    int64
	Type, ID    string
	Reason      string
	Status      string // Y, N, D, A or "" (outstanding)
	Msg         string // Y: the agent's result id; N, D: why
	Hash        string
	EntryDate   time.Time
	PublishedAt *time.Time
	ProcessDate *time.Time
	Attempts    int
}

// StatusText names a credential_log status.
func (c CredentialRow) StatusText() string {
	switch c.Status {
	case "Y":
		return "posted"
	case "N":
		return "rejected (N)"
	case "D":
		return "given up (D)"
	case "A":
		return "held (A)"
	case "":
		if c.PublishedAt == nil {
			return "outstanding, unpublished"
		}
		return "outstanding"
	}
	return c.Status
}

// Preview is one line of what `generate` would issue now.
type Preview struct {
	Type, CredentialID, Reason, Hash, NotBefore, Note, Error string
	Held, Known                                              bool
}

type corpData struct {
	CorpNum       string
	Searched      bool
	WorkItems     []WorkItem
	Credentials   []CredentialRow
	SourceEnabled bool
	Profile       string
	Preview       []Preview
	PreviewError  string
	DLQCount      int
}

func (s *Server) corp(w http.ResponseWriter, r *http.Request) {
	num := strings.TrimSpace(r.URL.Query().Get("num"))
	d := corpData{CorpNum: num, Searched: num != "", SourceEnabled: s.opt.Source != nil && s.opt.Profile != nil}
	if s.opt.Profile != nil {
		d.Profile = s.opt.Profile.Name()
	}
	if num == "" {
		s.render(w, r, "corp", "Corporation", d)
		return
	}
	ctx := r.Context()
	var err error
	if d.WorkItems, err = workItems(ctx, s.opt.DB, num); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Credentials, err = credentialRows(ctx, s.opt.DB, num); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.SourceEnabled {
		known := map[string]bool{}
		for _, c := range d.Credentials {
			known[c.Hash] = true
		}
		d.Preview, err = s.preview(ctx, num, known)
		if err != nil {
			d.PreviewError = redactURLs(err.Error())
		}
	}
	s.render(w, r, "corp", "Corporation "+num, d)
}

func workItems(ctx context.Context, db rowsQuerier, num string) ([]WorkItem, error) {
	rows, err := db.Query(ctx, `SELECT record_id, prev_event_id, prev_event_date, last_event_id, last_event_date,
	coalesce(reason, ''), coalesce(process_success, ''), coalesce(process_msg, ''), entry_date, process_date
FROM event_by_corp_filing WHERE corp_num = $1 ORDER BY record_id DESC LIMIT $2`, num, corpRowLimit)
	if err != nil {
		return nil, fmt.Errorf("work items of %s: %w", num, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (WorkItem, error) {
		var w WorkItem
		err := row.Scan(&w.RecordID, &w.PrevEventID, &w.PrevEventDate, &w.LastEventID, &w.LastEventDate,
			&w.Reason, &w.Success, &w.Msg, &w.EntryDate, &w.ProcessDate)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("work items of %s: %w", num, err)
	}
	return list, nil
}

func credentialRows(ctx context.Context, db rowsQuerier, num string) ([]CredentialRow, error) {
	rows, err := db.Query(ctx, `SELECT record_id, credential_type_cd, coalesce(credential_id, ''), coalesce(credential_reason, ''),
	coalesce(process_success, ''), coalesce(process_msg, ''), credential_hash, entry_date, published_at, process_date, attempts
FROM credential_log WHERE corp_num = $1 ORDER BY record_id DESC LIMIT $2`, num, corpRowLimit)
	if err != nil {
		return nil, fmt.Errorf("credentials of %s: %w", num, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CredentialRow, error) {
		var c CredentialRow
		err := row.Scan(&c.RecordID, &c.Type, &c.ID, &c.Reason, &c.Status, &c.Msg, &c.Hash, &c.EntryDate, &c.PublishedAt, &c.ProcessDate, &c.Attempts)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("credentials of %s: %w", num, err)
	}
	return list, nil
}

// preview runs the generator as `bcregctl generate` does: the full range
// at the current BC local time.
func (s *Server) preview(ctx context.Context, num string, known map[string]bool) ([]Preview, error) {
	batch, err := source.NewLoader(s.opt.Source, s.opt.Log).Load(ctx, []string{num})
	if err != nil {
		return nil, fmt.Errorf("load %s from the source database: %w", num, err)
	}
	now := s.bcNow()
	params := credential.FullRange(regevent.Through(now), now)
	var out []Preview
	for _, l := range credential.Lines(s.opt.Profile, []string{num}, batch, params) {
		switch v := l.(type) {
		case *credential.CredentialLine:
			out = append(out, Preview{Type: v.Type, CredentialID: v.CredentialID, Reason: v.Reason, Hash: v.Hash,
				NotBefore: v.NotBefore, Held: v.Held, Known: known[v.Hash]})
		case *credential.NoteLine:
			out = append(out, Preview{Note: v.Note})
		case *credential.ErrorLine:
			out = append(out, Preview{Error: v.Error})
		}
	}
	return out, nil
}

// lastEvent is the corporation's newest event: from the registry when the
// source database is configured, else from its newest work item.
func (s *Server) lastEvent(ctx context.Context, num string) (regevent.Position, error) {
	var id int64
	var date time.Time
	var err error
	if s.opt.Source != nil {
		err = s.opt.Source.QueryRow(ctx, `SELECT event_id, event_timestmp FROM bc_registries.event
WHERE corp_num = $1 AND event_id IS NOT NULL AND event_timestmp <= $2
ORDER BY event_timestmp DESC, event_id DESC LIMIT 1`, num, s.bcNow()).Scan(&id, &date)
	} else {
		err = s.opt.DB.QueryRow(ctx, `SELECT last_event_id, last_event_date FROM event_by_corp_filing
WHERE corp_num = $1 ORDER BY last_event_date DESC, last_event_id DESC LIMIT 1`, num).Scan(&id, &date)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return regevent.Position{}, errNoEvent
	}
	if err != nil {
		return regevent.Position{}, fmt.Errorf("newest event of %s: %w", num, err)
	}
	return regevent.At(id, date), nil
}

var errNoEvent = errors.New("no event known for this corporation")

// RequeueCorp publishes a CorpEvent over the corporation's whole history
// (reason "requeue") and records it in operator_action.
func RequeueCorp(ctx context.Context, s *Server, num, via string) (string, error) {
	last, err := s.lastEvent(ctx, num)
	if err != nil {
		return "", err
	}
	now := s.opt.Now()
	ev := messages.CorpEvent{System: messages.SystemBCReg, CorpNum: num, Prev: regevent.Start, Last: last,
		Reason: messages.ReasonRequeue, DetectedAt: now.UTC()}
	msgID := messages.RequeueMsgID(messages.SystemBCReg, num, now)
	out, err := bus.CorpEventMsg(ev, msgID)
	if err != nil {
		return "", fmt.Errorf("requeue %s: %w", num, err)
	}
	if _, err := bus.Publish(ctx, s.opt.JS, out, s.opt.Backoff); err != nil {
		return "", fmt.Errorf("requeue %s: %w", num, err)
	}
	if _, err := eventdb.OperatorAction(ctx, s.opt.DB, "requeue", messages.SystemBCReg+" corp="+num, 1,
		map[string]any{"msg_id": msgID, "last_event_id": last.EventID, "via": via}); err != nil {
		return msgID, err
	}
	return msgID, nil
}

func (s *Server) corpRequeue(w http.ResponseWriter, r *http.Request) {
	num := strings.TrimSpace(r.PostForm.Get("corp"))
	if num == "" || len(num) > 64 {
		s.message(w, r, http.StatusBadRequest, "Bad request", "Name a corporation.")
		return
	}
	if !confirmed(r) {
		s.message(w, r, http.StatusBadRequest, "Not confirmed", "Tick the confirmation box to requeue.")
		return
	}
	msgID, err := RequeueCorp(r.Context(), s, num, "console "+r.RemoteAddr)
	if errors.Is(err, errNoEvent) {
		s.message(w, r, http.StatusConflict, "Nothing to requeue", num+": "+err.Error()+".")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/corp?num="+url.QueryEscape(num)+"&done="+url.QueryEscape("requeued "+num+" as "+msgID), http.StatusSeeOther)
}
