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

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/corpops"
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

// RequeueCorp requeues the corporation as `bcregctl requeue corp` does
// (package corpops: the same range and operator_action) and returns the
// message id.
func RequeueCorp(ctx context.Context, s *Server, num, via string) (string, error) {
	now := s.opt.Now()
	last, err := corpops.Plan(ctx, s.opt.DB, s.opt.Source, []string{num}, 0, now)
	if err != nil {
		return "", err
	}
	ids, err := corpops.Publish(ctx, s.opt.JS, s.opt.DB, s.opt.Backoff, []string{num}, last, now, via)
	if len(ids) == 0 {
		return "", err
	}
	return ids[0], err
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
	if errors.Is(err, corpops.ErrUnknownCorps) {
		s.message(w, r, http.StatusConflict, "Nothing to requeue", num+": "+err.Error()+".")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/corp?num="+url.QueryEscape(num)+"&done="+url.QueryEscape("requeued "+num+" as "+msgID), http.StatusSeeOther)
}
