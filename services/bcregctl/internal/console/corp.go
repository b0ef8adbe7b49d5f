package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/corpops"
)

// corpRowLimit bounds each table of the corporation page.
const corpRowLimit = 200

// CredentialRow is one credential_log row as the operator sees it.
type CredentialRow struct{ operator.CorpCredential }

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
	WorkItems     []operator.CorpWorkItem
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
	if d.WorkItems, err = operator.CorpWorkItems(ctx, s.opt.DB, num, corpRowLimit); err != nil {
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

func credentialRows(ctx context.Context, db eventdb.Querier, num string) ([]CredentialRow, error) {
	list, err := operator.CorpCredentials(ctx, db, num, corpRowLimit)
	if err != nil {
		return nil, err
	}
	rows := make([]CredentialRow, len(list))
	for i, c := range list {
		rows[i] = CredentialRow{c}
	}
	return rows, nil
}

// preview runs the generator as `bcregctl generate` does: the full range
// at the current BC local time.
func (s *Server) preview(ctx context.Context, num string, known map[string]bool) ([]Preview, error) {
	batch, err := sourcedb.NewLoader(s.opt.Source, s.opt.Log).Load(ctx, []string{num})
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
