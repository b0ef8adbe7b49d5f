package audit

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// API reads OrgBook through its public read API (BCREG_ORGBOOK_API_URL),
// for audits of named corporations (--corp): the API cannot page through
// every topic (docs/design/orgbook.md, "The read API"). Per corporation:
// the topic by registration id (formatted), its credential sets (the
// latest registration and business-number credentials), and the topics it
// is related to, each by id. Requests are spaced to stay within Rate, and
// a 429 (the production proxy's limit) is retried after a back-off.
type API struct {
	base   string
	client *http.Client
	// interval is the spacing of requests (1 / rate).
	interval time.Duration
	// Clock: now and sleep (time.Now and a timer by default; tests drive
	// both, with the rate-limited server on the same clock).
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu        sync.Mutex
	next      time.Time // the earliest start of the next request
	throttled int       // 429 answers

	regType, bnType int64
}

// APIOptions configure an API client.
type APIOptions struct {
	// Rate is requests a second at most (OrgBook BC's proxy allows 25).
	Rate    float64
	Timeout time.Duration // one request
	Now     func() time.Time
	Sleep   func(context.Context, time.Duration) error
}

// Back-off after a 429 or a 5xx answer: doubling from apiBackoff up to
// apiBackoffMax, apiAttempts tries in all; a Retry-After answer is obeyed.
const (
	apiBackoff    = time.Second
	apiBackoffMax = 30 * time.Second
	apiAttempts   = 8
)

// OpenAPI discovers the credential types at base (OrgBook's root URL) by
// description, never assuming ids.
func OpenAPI(ctx context.Context, base string, o APIOptions) (*API, error) {
	if o.Rate <= 0 {
		return nil, fmt.Errorf("orgbook api: rate %v: want more than 0 requests a second", o.Rate)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	a := &API{base: strings.TrimRight(base, "/"), client: &http.Client{Timeout: o.Timeout},
		interval: time.Duration(float64(time.Second) / o.Rate), now: o.Now, sleep: o.Sleep}
	var types []struct {
		ID          int64  `json:"id"`
		Description string `json:"description"`
	}
	if _, err := a.get(ctx, "/api/v4/credential-type?paging=false", &types); err != nil {
		return nil, err
	}
	for _, t := range types {
		switch t.Description {
		case descRegistration:
			a.regType = t.ID
		case descBusinessNumber:
			a.bnType = t.ID
		}
	}
	if a.regType == 0 {
		return nil, errors.New("orgbook api: no credential type " + descRegistration + ": is BCREG_ORGBOOK_API_URL OrgBook?")
	}
	return a, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Throttled is how many 429 answers the client backed off from.
func (a *API) Throttled() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.throttled
}

// pace waits for the request's turn.
func (a *API) pace(ctx context.Context) error {
	a.mu.Lock()
	now := a.now()
	start := latest(now, a.next)
	a.next = start.Add(a.interval)
	a.mu.Unlock()
	if d := start.Sub(now); d > 0 {
		return a.sleep(ctx, d)
	}
	return nil
}

// get reads path into v; found is false for a 404.
func (a *API) get(ctx context.Context, path string, v any) (found bool, err error) {
	backoff := apiBackoff
	for attempt := 1; ; attempt++ {
		if err := a.pace(ctx); err != nil {
			return false, err
		}
		status, wait, body, err := a.once(ctx, path)
		retry := err != nil || status == http.StatusTooManyRequests || status >= 500
		switch {
		case !retry && status == http.StatusOK:
			if err := json.Unmarshal(body, v); err != nil {
				return false, fmt.Errorf("orgbook api: %s: %w", path, err)
			}
			return true, nil
		case !retry && status == http.StatusNotFound:
			return false, nil
		case !retry:
			return false, fmt.Errorf("orgbook api: %s: answered %d: %.200s", path, status, body)
		case attempt == apiAttempts:
			if err == nil {
				err = fmt.Errorf("answered %d", status)
			}
			return false, fmt.Errorf("orgbook api: %s: %d attempts: %w", path, attempt, err)
		}
		if status == http.StatusTooManyRequests {
			a.mu.Lock()
			a.throttled++
			a.mu.Unlock()
		}
		if wait <= 0 {
			wait = backoff
			backoff = min(2*backoff, apiBackoffMax)
		}
		// The whole client waits: the limit is per client, not per request.
		a.mu.Lock()
		a.next = latest(a.next, a.now().Add(wait))
		a.mu.Unlock()
	}
}

// once makes one request; wait is the answer's Retry-After.
func (a *API) once(ctx context.Context, path string) (status int, wait time.Duration, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("orgbook api: BCREG_ORGBOOK_API_URL: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if s, e := strconv.Atoi(resp.Header.Get("Retry-After")); e == nil && s > 0 {
		wait = time.Duration(s) * time.Second
	}
	return resp.StatusCode, wait, body, err
}

// apiCred is a credential of /api/v4/topic/{id}/credential-set.
type apiCred struct {
	ID             int64 `json:"id"`
	CredentialType struct {
		ID int64 `json:"id"`
	} `json:"credential_type"`
	EffectiveDate string `json:"effective_date"`
	Latest        bool   `json:"latest"`
	Attributes    []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"attributes"`
	Names []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"names"`
}

func (c *apiCred) attr(k string) string {
	for _, a := range c.Attributes {
		if a.Type == k {
			return a.Value
		}
	}
	return ""
}

func (c *apiCred) name(k string) string {
	for _, n := range c.Names {
		if n.Type == k {
			return n.Text
		}
	}
	return ""
}

// Lookup implements OrgBook: one corporation after the other.
func (a *API) Lookup(ctx context.Context, sourceIDs []string) (map[string]*Found, error) {
	out := make(map[string]*Found, len(sourceIDs))
	for _, id := range sourceIDs {
		f, err := a.topic(ctx, id)
		if err != nil {
			return nil, err
		}
		if f != nil {
			out[id] = f
		}
	}
	return out, nil
}

// topic reads one topic; nil when OrgBook has none.
func (a *API) topic(ctx context.Context, sourceID string) (*Found, error) {
	var t struct {
		ID int64 `json:"id"`
	}
	if ok, err := a.get(ctx, "/api/v2/topic/ident/"+topicType+"/"+url.PathEscape(sourceID)+"/formatted", &t); err != nil || !ok {
		return nil, err
	}
	var sets []struct {
		Credentials []apiCred `json:"credentials"`
	}
	if _, err := a.get(ctx, fmt.Sprintf("/api/v4/topic/%d/credential-set", t.ID), &sets); err != nil {
		return nil, err
	}
	// The latest of each type, as the database reading takes it: latest,
	// then the newest effective date, then the highest id.
	var reg, bn *apiCred
	newer := func(c, than *apiCred) bool {
		if than == nil {
			return true
		}
		ce, _ := parseInstant(c.EffectiveDate)
		te, _ := parseInstant(than.EffectiveDate)
		return ce.After(te) || (ce.Equal(te) && c.ID > than.ID)
	}
	for i := range sets {
		for j := range sets[i].Credentials {
			c := &sets[i].Credentials[j]
			switch {
			case !c.Latest:
			case c.CredentialType.ID == a.regType && newer(c, reg):
				reg = c
			case a.bnType != 0 && c.CredentialType.ID == a.bnType && newer(c, bn):
				bn = c
			}
		}
	}
	f := &Found{SourceID: sourceID, HasRegistration: reg != nil, Related: []string{}}
	if reg != nil {
		f.EntityType, f.EntityStatus = reg.attr("entity_type"), reg.attr("entity_status")
		f.RegistrationDate, f.HomeJurisdiction = reg.attr("registration_date"), reg.attr("home_jurisdiction")
		f.Name = cmp.Or(reg.name("entity_name_assumed"), reg.name("entity_name"))
	}
	if bn != nil {
		f.BusinessNumber = bn.attr("business_number")
	}
	var top struct {
		RelatedTo []int64 `json:"related_to"`
	}
	if _, err := a.get(ctx, fmt.Sprintf("/api/v4/topic/%d", t.ID), &top); err != nil {
		return nil, err
	}
	for _, rid := range top.RelatedTo {
		var rel struct {
			SourceID string `json:"source_id"`
		}
		ok, err := a.get(ctx, fmt.Sprintf("/api/v4/topic/%d", rid), &rel)
		if err != nil {
			return nil, err
		}
		if ok && !slices.Contains(f.Related, rel.SourceID) {
			f.Related = append(f.Related, rel.SourceID)
		}
	}
	slices.Sort(f.Related)
	return f, nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Registered implements OrgBook: the API has no listing an audit can page
// through at scale, so only named corporations are audited through it.
func (a *API) Registered(context.Context, int64, int) ([]string, int64, error) {
	return nil, 0, errors.New("orgbook api: the full audit reads OrgBook's database (BCREG_ORGBOOK_DB_URL); through BCREG_ORGBOOK_API_URL only --corp")
}
