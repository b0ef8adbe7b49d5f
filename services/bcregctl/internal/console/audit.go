package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/bcgov/bcreg-events/pkg/audit"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/corpops"
)

// auditHistory is how many earlier audits the page lists.
const auditHistory = 10

type auditData struct {
	Last     *audit.Stored
	Earlier  []audit.Stored
	Corps    []string // the last audit's corporations a requeue repairs
	Steps    []string // what only a person can do (OrgBook's side)
	Shown    int      // findings listed (the first audit.StoredFindings)
	Repaired string
}

// Total is a run's findings count (every one, not only those stored).
func (d auditData) Total() int {
	if d.Last == nil {
		return 0
	}
	return d.Last.Total
}

// audit shows the last recorded audit (bcregctl audit, or the poller's
// BCREG_AUDIT_SCHEDULE): its summary per check, its findings with the
// expected and found values, the steps for a person and the repair.
func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	runs, err := audit.LastRuns(r.Context(), s.opt.DB, auditHistory+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := auditData{}
	if len(runs) > 0 {
		d.Last, d.Earlier = &runs[0], runs[1:]
		d.Corps = d.Last.Corps()
		d.Steps = d.Last.PersonSteps()
		d.Shown = len(d.Last.Findings)
	}
	s.render(w, r, "audit", "OrgBook audit", d)
}

// auditRequeue repairs the corporations of the audit the form names
// (requeue and re-post, as `bcregctl audit --requeue --yes`), provided it
// is still the last: a newer audit may have found other corporations.
func (s *Server) auditRequeue(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PostForm.Get("run"), 10, 64)
	if err != nil {
		s.message(w, r, http.StatusBadRequest, "Bad request", "Name an audit.")
		return
	}
	if !confirmed(r) {
		s.message(w, r, http.StatusBadRequest, "Not confirmed", "Tick the confirmation box to requeue.")
		return
	}
	runs, err := audit.LastRuns(r.Context(), s.opt.DB, 1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(runs) == 0 || runs[0].ID != id {
		s.message(w, r, http.StatusConflict, "A newer audit", "This is not the last audit any more: reload the Audit page.")
		return
	}
	corps := runs[0].Corps()
	if len(corps) == 0 {
		s.message(w, r, http.StatusConflict, "Nothing to requeue", "The last audit found no corporation to repair.")
		return
	}
	profile := ""
	if s.opt.Profile != nil {
		profile = s.opt.Profile.Name()
	}
	rep, err := corpops.RepairAudit(r.Context(), s.opt.DB, s.opt.Source, s.opt.JS, s.opt.Backoff, profile, corps,
		"console "+r.RemoteAddr, s.opt.Log)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	done := fmt.Sprintf("requeued %d corporation(s) of audit %d up to event %d; %d delivered credential(s) re-posted (%d published now)",
		len(corps), id, rep.Through, rep.Reposted, rep.Published)
	if len(corps) <= 10 {
		done += ": " + strings.Join(corps, " ")
	}
	http.Redirect(w, r, "/audit?done="+url.QueryEscape(done), http.StatusSeeOther)
}
