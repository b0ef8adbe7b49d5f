package agentsim

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // OrgBook BC renders model dates in Pacific time
)

// OrgBook's read API, the part an audit uses (docs/design/orgbook.md, "The
// read API"): plain objects and arrays, the paging envelope of the topic
// list, Django REST framework's 404 bodies, and its three date renderings.

// orgBookPageMax is OrgBook's MAX_PAGE_SIZE; larger page sizes are clamped.
const orgBookPageMax = 200

var pacific = func() *time.Location {
	l, err := time.LoadLocation("America/Vancouver")
	if err != nil {
		panic(err)
	}
	return l
}()

// pyISO is Python's datetime.isoformat(): microseconds only when non-zero,
// the offset as +HH:MM.
func pyISO(t time.Time) string {
	if t.Nanosecond()/1000 != 0 {
		return t.Format("2006-01-02T15:04:05.000000-07:00")
	}
	return t.Format("2006-01-02T15:04:05-07:00")
}

// modelDate is a ModelSerializer datetime: Pacific time with its offset.
func modelDate(t time.Time) string { return pyISO(t.In(pacific)) }

// setDate is a hand-built dict's date: UTC isoformat (+00:00).
func setDate(t time.Time) string { return pyISO(t.UTC()) }

// encoderDate is DRF's JSON encoder: UTC, milliseconds, Z.
func encoderDate(t time.Time) string {
	s := t.UTC().Format("2006-01-02T15:04:05.000")
	if t.Nanosecond() == 0 {
		s = t.UTC().Format("2006-01-02T15:04:05")
	}
	return s + "Z"
}

func optDate(t *time.Time, f func(time.Time) string) any {
	if t == nil {
		return nil
	}
	return f(*t)
}

// obIssuer is the BC Registries issuer as OrgBook describes it.
func (s *Sim) obIssuer() pyObj {
	return pyObj{{"id", 1}, {"did", "did:sov:" + s.cfg.Issuer}, {"name", "BC Corporate Registry"},
		{"abbreviation", "BCReg"}, {"email", "bcreg.test@example.com"}, {"url", "https://www.bcregistry.ca"}, {"has_logo", false}}
}

// serveOrgBook routes /api/…
func (s *Sim) serveOrgBook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		obJSON(w, http.StatusMethodNotAllowed, pyObj{{"detail", fmt.Sprintf("Method \"%s\" not allowed.", r.Method)}}, -1)
		return
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(segs) == 6 && segs[1] == "v2" && segs[2] == "topic" && segs[3] == "ident":
		// Too few segments for /formatted: fall through to 404.
	case len(segs) == 7 && segs[1] == "v2" && segs[2] == "topic" && segs[3] == "ident" && segs[6] == "formatted":
		s.obFormatted(w, segs[4], segs[5])
		return
	case len(segs) == 5 && segs[1] == "v4" && segs[2] == "topic" && segs[4] == "credential-set":
		s.obCredentialSets(w, segs[3])
		return
	case len(segs) == 3 && segs[1] == "v4" && segs[2] == "topic":
		s.obTopicList(w, r)
		return
	case len(segs) == 4 && segs[1] == "v4" && segs[2] == "topic":
		s.obTopic(w, segs[3])
		return
	case len(segs) == 3 && segs[1] == "v4" && segs[2] == "credential-type":
		s.obCredentialTypes(w)
		return
	}
	obNotFound(w)
}

func obNotFound(w http.ResponseWriter) {
	obJSON(w, http.StatusNotFound, pyObj{{"detail", "Not found."}}, -1)
}

// obJSON writes a DRF JSON reply; itemCount ≥ 0 sets the item_count header.
func obJSON(w http.ResponseWriter, status int, v any, itemCount int) {
	if itemCount >= 0 {
		w.Header().Set("item_count", strconv.Itoa(itemCount))
	}
	writeBody(w, status, "application/json", pyDumps(v, compactJSON))
}

// compactJSON is DRF's renderer's compact separators (it keeps non-ASCII
// characters as they are; the simulator escapes them, the same JSON value).
var compactJSON = pyStyle{compact: true}

func (s *Sim) obFormatted(w http.ResponseWriter, typ, sourceID string) {
	switch typ {
	case "registration":
		typ = OrgBookTopicType
	case "relationship", "business_number":
		typ = OrgBookRelationship
	}
	o := s.ob
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.topics[sourceID]
	if t == nil || t.Type != typ {
		obNotFound(w)
		return
	}
	names, attrs := []any{}, []any{}
	var nameRows []pyObj
	var nameInactive []bool
	for _, set := range t.Sets {
		tp := o.typeByID(set.TypeID)
		for _, c := range set.Creds {
			if !c.Latest || c.Revoked {
				continue
			}
			for _, n := range c.Names {
				if n.Type != orgBookRegistrationName && n.Type != orgBookAssumedName {
					continue
				}
				nameRows = append(nameRows, pyObj{{"id", n.ID}, {"credential_id", c.ID}, {"last_updated", encoderDate(c.EffectiveDate)},
					{"inactive", c.Inactive}, {"text", n.Text}, {"language", nil}, {"issuer", s.obIssuer()}, {"type", n.Type}})
				nameInactive = append(nameInactive, c.Inactive)
			}
			if tp.Description != t.Type {
				continue
			}
			for _, a := range c.Attrs {
				attrs = append(attrs, pyObj{{"id", a.ID}, {"credential_id", c.ID}, {"credential_type_id", c.TypeID},
					{"last_updated", encoderDate(c.EffectiveDate)}, {"inactive", c.Inactive}, {"type", a.Type}, {"format", a.Format}, {"value", a.Value}})
			}
		}
	}
	// Ordered by the credential's inactive flag (active first).
	idx := make([]int, len(nameRows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return compareBool(nameInactive[a], nameInactive[b]) })
	for _, i := range idx {
		names = append(names, nameRows[i])
	}
	obJSON(w, http.StatusOK, pyObj{{"id", t.ID}, {"create_timestamp", modelDate(t.Created)}, {"source_id", t.SourceID},
		{"type", t.Type}, {"names", names}, {"addresses", []any{}}, {"attributes", attrs}}, -1)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func (s *Sim) obCredentialSets(w http.ResponseWriter, idText string) {
	id, err := strconv.ParseInt(idText, 10, 64)
	o := s.ob
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.byID[id]
	if err != nil || t == nil {
		obNotFound(w)
		return
	}
	sets := slices.Clone(t.Sets)
	slices.SortStableFunc(sets, func(a, b *OBSet) int { return a.First.Compare(*b.First) })
	out := make([]any, 0, len(sets))
	for _, set := range sets {
		creds := make([]any, 0, len(set.Creds))
		for _, c := range set.Creds {
			tp := o.typeByID(c.TypeID)
			attrs, names := []any{}, []any{}
			for _, a := range c.Attrs {
				attrs = append(attrs, pyObj{{"id", a.ID}, {"type", a.Type}, {"format", a.Format}, {"value", a.Value}})
			}
			for _, n := range c.Names {
				names = append(names, pyObj{{"id", n.ID}, {"text", n.Text}, {"language", nil}, {"credential_id", c.ID}, {"type", n.Type}})
			}
			var revokedBy any
			if c.RevokedBy != 0 {
				revokedBy = c.RevokedBy
			}
			creds = append(creds, pyObj{{"id", c.ID},
				{"credential_type", pyObj{{"id", tp.ID}, {"issuer", s.obIssuer()}, {"description", tp.Description},
					{"schema", pyObj{{"id", tp.ID}, {"name", tp.Description}, {"version", tp.Version}}}}},
				{"credential_id", c.CredentialID}, {"credential_def_id", fmt.Sprintf("%s:3:CL:%d:default", s.cfg.Issuer, tp.ID)},
				{"effective_date", modelDate(c.EffectiveDate)}, {"inactive", c.Inactive}, {"latest", c.Latest}, {"revoked", c.Revoked},
				{"revoked_date", optDate(c.RevokedDate, modelDate)}, {"revoked_by", revokedBy},
				{"attributes", attrs}, {"names", names}, {"raw_data", nil}})
		}
		out = append(out, pyObj{{"id", set.ID}, {"create_timestamp", setDate(set.Created)}, {"update_timestamp", setDate(set.Updated)},
			{"latest_credential_id", set.LatestID}, {"first_effective_date", optDate(set.First, setDate)},
			{"last_effective_date", optDate(set.Last, setDate)}, {"credentials", creds}})
	}
	obJSON(w, http.StatusOK, out, len(out))
}

// obTopicList is /api/v4/topic: every topic by id, paged.
func (s *Sim) obTopicList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, size := 1, 10
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			obJSON(w, http.StatusNotFound, pyObj{{"detail", "Invalid page."}}, -1)
			return
		}
		page = n
	}
	if v := q.Get("page_size"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			size = min(n, orgBookPageMax)
		}
	}
	o := s.ob
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := make([]int64, 0, len(o.byID))
	for id := range o.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	total := len(ids)
	pages := max(1, (total+size-1)/size)
	if page > pages {
		obJSON(w, http.StatusNotFound, pyObj{{"detail", "Invalid page."}}, -1)
		return
	}
	from, to := (page-1)*size, min(page*size, total)
	results := make([]any, 0, to-from)
	relFrom := map[int64][]int64{}
	for _, t := range o.byID {
		for _, rel := range t.Rels {
			relFrom[rel.RelatedTopicID] = append(relFrom[rel.RelatedTopicID], t.ID)
		}
	}
	for _, id := range ids[from:to] {
		t := o.byID[id]
		relTo := []any{}
		for _, rel := range t.Rels {
			relTo = append(relTo, rel.RelatedTopicID)
		}
		rf := []any{}
		for _, x := range relFrom[id] {
			rf = append(rf, x)
		}
		results = append(results, obTopicObj(t, relTo, rf))
	}
	link := func(p int) any {
		if p < 1 || p > pages {
			return nil
		}
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		v := url.Values{}
		v.Set("page", strconv.Itoa(p))
		v.Set("page_size", strconv.Itoa(size))
		u.RawQuery = v.Encode()
		return u.String()
	}
	first, last := 0, 0
	if to > from {
		first, last = from+1, to
	}
	obJSON(w, http.StatusOK, pyObj{{"total", total}, {"page_size", size}, {"page", page}, {"first_index", first}, {"last_index", last},
		{"next", link(page + 1)}, {"previous", link(page - 1)}, {"results", results}}, total)
}

func (s *Sim) obCredentialTypes(w http.ResponseWriter) {
	o := s.ob
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]any, 0, len(o.types))
	for _, t := range o.types {
		out = append(out, pyObj{{"id", t.ID}, {"issuer", s.obIssuer()},
			{"schema", pyObj{{"id", t.ID}, {"name", t.Description}, {"version", t.Version}}}, {"description", t.Description}})
	}
	obJSON(w, http.StatusOK, out, len(out))
}

// obLimiter is the production proxy's rate limit: a token bucket per
// client address holding at most rate tokens, refilled at rate a second.
type obLimiter struct {
	mu      sync.Mutex
	buckets map[string]*obBucket
}

type obBucket struct {
	tokens float64
	at     time.Time
}

// allow takes a token of the client's bucket; rate ≤ 0 allows everything.
func (l *obLimiter) allow(rate float64, remoteAddr string, now time.Time) bool {
	if rate <= 0 {
		return true
	}
	client := remoteAddr
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		client = host
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*obBucket{}
	}
	b := l.buckets[client]
	if b == nil {
		b = &obBucket{tokens: rate, at: now}
		l.buckets[client] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(rate, b.tokens+rate*d.Seconds())
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// obTopic is /api/v4/topic/{id}: the TopicSerializer, with the topics it
// is related to and from by id.
func (s *Sim) obTopic(w http.ResponseWriter, idText string) {
	id, err := strconv.ParseInt(idText, 10, 64)
	o := s.ob
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.byID[id]
	if err != nil || t == nil {
		obNotFound(w)
		return
	}
	relTo, relFrom := []any{}, []any{}
	for _, rel := range t.Rels {
		relTo = append(relTo, rel.RelatedTopicID)
	}
	for _, other := range o.byID {
		for _, rel := range other.Rels {
			if rel.RelatedTopicID == id {
				relFrom = append(relFrom, other.ID)
			}
		}
	}
	slices.SortFunc(relFrom, func(a, b any) int { return int(a.(int64) - b.(int64)) })
	obJSON(w, http.StatusOK, obTopicObj(t, relTo, relFrom), -1)
}

func obTopicObj(t *OBTopic, relTo, relFrom []any) pyObj {
	return pyObj{{"id", t.ID}, {"create_timestamp", modelDate(t.Created)}, {"update_timestamp", modelDate(t.Updated)},
		{"source_id", t.SourceID}, {"type", t.Type}, {"related_to", relTo}, {"related_from", relFrom}}
}
