package agentsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// vonxMaxBody is aiohttp's client_max_size: a body of this size or more is
// refused with 413.
const vonxMaxBody = 1 << 20

const (
	vonxJSON = "application/json; charset=utf-8"
)

// serveVonX routes a request the way VON-X's aiohttp application does.
func (s *Sim) serveVonX(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/health":
		if allowAiohttp(w, r, "GET", "HEAD") {
			s.vonxHealth(w)
		}
	case path == "/status":
		if allowAiohttp(w, r, "GET", "HEAD") {
			s.vonxStatus(w)
		}
	case path == "/issue-credential":
		if allowAiohttp(w, r, "POST") {
			s.handleIssue(w, r, func(x *exchange) { s.vonxIssue(x, "") })
		}
	default:
		conn, ok := issuePathConn(r.URL)
		if !ok {
			writeAiohttp(w, http.StatusNotFound)
			return
		}
		if allowAiohttp(w, r, "POST") {
			s.handleIssue(w, r, func(x *exchange) { s.vonxIssue(x, conn) })
		}
	}
}

// issuePathConn matches /{connection_id}/issue-credential. The id is one
// non-empty path segment; escaped slashes do not split it.
func issuePathConn(u *url.URL) (string, bool) {
	segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	if len(segs) != 2 || segs[0] == "" || segs[1] != "issue-credential" {
		return "", false
	}
	conn, err := url.PathUnescape(segs[0])
	if err != nil {
		return "", false
	}
	return conn, true
}

// allowAiohttp answers 405 like aiohttp unless the method is allowed.
func allowAiohttp(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ","))
	writeAiohttp(w, http.StatusMethodNotAllowed)
	return false
}

func writeAiohttp(w http.ResponseWriter, status int) {
	writeBody(w, status, "text/plain; charset=utf-8", []byte(aiohttpText(status)))
}

func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(body)
}

// vonxHealth is views.health: 200 "ok" once synchronised, 451 empty before.
func (s *Sim) vonxHealth(w http.ResponseWriter) {
	if s.Synced() {
		writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte("ok"))
		return
	}
	writeBody(w, http.StatusUnavailableForLegalReasons, "text/plain; charset=utf-8", nil)
}

// vonxStatus is views.status: the service manager's status document.
func (s *Sim) vonxStatus(w http.ResponseWriter) {
	s.mu.Lock()
	synced := s.syncedLocked()
	syncing := !synced && !s.neverSync
	t := s.timer
	s.mu.Unlock()
	emptyStats := pyObj{
		{"avg", pyObj{}}, {"count", pyObj{}}, {"current", pyObj{}},
		{"max", pyObj{}}, {"min", pyObj{}}, {"total", pyObj{}},
	}
	indyStats := emptyStats
	if t.count > 0 || t.current > 0 {
		timer := func(v any) pyObj { return pyObj{{"issue_credential", v}} }
		avg := 0.0
		if t.count > 0 {
			avg = t.total / float64(t.count)
		}
		indyStats = pyObj{
			{"avg", timer(avg)}, {"count", timer(t.count)}, {"current", timer(t.current)},
			{"max", timer(t.max)}, {"min", timer(t.min)}, {"total", timer(t.total)},
		}
	}
	service := func(id string, stats pyObj) pyObj {
		return pyObj{
			{"id", id}, {"failed", false}, {"synced", synced}, {"syncing", syncing},
			{"started", true}, {"stats", stats},
		}
	}
	doc := append(service("manager", emptyStats), pyKV{"services", pyObj{{"indy", service("indy", indyStats)}}})
	writeBody(w, http.StatusOK, vonxJSON, pyDumps(doc, aiohttpJSON))
}

// pyVal is a batch item's schema or version as the Python code sees it.
type pyVal struct {
	kind byte   // 'n' None, 's' str, 'x' another hashable scalar, 'u' unhashable
	s    string // the string, or the JSON text of another value
}

func toPyVal(raw json.RawMessage, present bool) pyVal {
	raw = bytes.TrimSpace(raw)
	if !present || string(raw) == "null" {
		return pyVal{kind: 'n'}
	}
	switch raw[0] {
	case '"':
		var s string
		json.Unmarshal(raw, &s)
		return pyVal{kind: 's', s: s}
	case '[', '{':
		return pyVal{kind: 'u', s: string(raw)}
	}
	return pyVal{kind: 'x', s: string(raw)}
}

// String is Python's str() for None and str values.
func (v pyVal) String() string {
	if v.kind == 'n' {
		return "None"
	}
	return v.s
}

// vgroup is a (schema, version) group of a VON-X request.
type vgroup struct {
	schema, version pyVal
	idx             []int             // positions of the items in the request
	attrs           []json.RawMessage // their attribute objects
}

// vonxIssue is views.issue_credential with perform_issue_credential.
func (s *Sim) vonxIssue(x *exchange, pathConn string) {
	q := x.r.URL.Query()
	conn := pathConn
	if qc := q.Get("connection_id"); qc != "" {
		if pathConn != "" && pathConn != qc {
			x.text(http.StatusBadRequest, fmt.Sprintf("connection_id must be unspecified or equal to '%s'", pathConn))
			return
		}
		conn = qc
	} else if conn == "" {
		x.text(http.StatusBadRequest, "connection_id must be specified")
		return
	}

	body, size, tooBig, err := readBody(x.r, vonxMaxBody)
	switch {
	case err != nil:
		x.drop("aborted")
		return
	case tooBig:
		x.text(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("Maximum request body size %d exceeded, actual body size %d", vonxMaxBody, size))
		return
	case !utf8.Valid(body):
		// aiohttp's request.text() raises UnicodeDecodeError.
		x.aiohttp500()
		return
	case !json.Valid(body):
		x.text(http.StatusBadRequest, "Request body must contain an application/json payload")
		return
	}
	body = bytes.TrimSpace(body)

	var groups []*vgroup
	n := 0
	if body[0] != '[' {
		schema := q.Get("schema")
		if schema == "" {
			x.text(http.StatusBadRequest, "Missing 'schema' parameter")
			return
		}
		if body[0] != '{' {
			x.text(http.StatusBadRequest, "Request body must contain the credential attributes as a JSON object")
			return
		}
		version := pyVal{kind: 'n'}
		if q.Has("version") {
			version = pyVal{kind: 's', s: q.Get("version")}
		}
		groups = []*vgroup{{schema: pyVal{kind: 's', s: schema}, version: version, idx: []int{0}, attrs: []json.RawMessage{compact(body)}}}
		n = 1
	} else {
		var items []json.RawMessage
		json.Unmarshal(body, &items)
		byKey := map[string]*vgroup{}
		for i, item := range items {
			item = bytes.TrimSpace(item)
			if item[0] != '{' {
				x.text(http.StatusBadRequest, "Expected JSON object")
				return
			}
			var obj map[string]json.RawMessage
			json.Unmarshal(item, &obj)
			schemaRaw, ok := obj["schema"]
			if !ok {
				x.text(http.StatusBadRequest, "Missing 'schema' property")
				return
			}
			attrs, ok := obj["attributes"]
			if attrs = bytes.TrimSpace(attrs); !ok || attrs[0] != '{' {
				x.text(http.StatusBadRequest, "Missing or non-dictionary 'attributes' property")
				return
			}
			versionRaw, hasVersion := obj["version"]
			schema, version := toPyVal(schemaRaw, true), toPyVal(versionRaw, hasVersion)
			if schema.kind == 'u' || version.kind == 'u' {
				// TypeError: unhashable type, while grouping.
				x.aiohttp500()
				return
			}
			key := string(schema.kind) + schema.s + "\x00" + string(version.kind) + version.s
			g := byKey[key]
			if g == nil {
				g = &vgroup{schema: schema, version: version}
				byKey[key] = g
				groups = append(groups, g)
			}
			g.idx = append(g.idx, i)
			g.attrs = append(g.attrs, compact(attrs))
		}
		n = len(items)
	}

	f := s.snapshot()
	p := s.roll(f)
	if !f.AfterIssue && s.inject(x, f, p) {
		return
	}
	if !s.admit(n, f) {
		s.overloaded(x, f)
		return
	}
	defer s.unadmit(n)

	rows := make([]pyObj, n)
	for i, g := range groups {
		if g.schema.kind == 'x' || g.version.kind == 'x' {
			// TypeError in IssueCredentialBatchReq: the groups before this
			// one are issued already.
			x.aiohttp500()
			return
		}
		if i > 0 && x.r.Context().Err() != nil {
			// The client is gone: aiohttp cancels the handler, and the
			// group in progress was the last one sent to the indy service.
			return
		}
		out, err := s.vonxGroup(f, conn, g, body[0] == '[')
		if err != nil {
			return // closed
		}
		for j, pos := range g.idx {
			rows[pos] = out[j]
		}
	}

	if f.AfterIssue && s.inject(x, f, p) {
		return
	}
	short := p.outcome == "short"
	if short {
		s.countInjected("short")
	}
	if body[0] != '[' {
		reply := pyDumps(rows[0], aiohttpJSON)
		if short {
			reply = reply[:len(reply)/2]
		}
		x.json(vonxJSON, reply)
		return
	}
	if short && len(rows) > 0 {
		rows = rows[:len(rows)-1]
	}
	x.json(vonxJSON, pyDumps(rows, aiohttpJSON))
}

// vonxGroup is IndyService._issue_credential for one group: the checks, the
// concurrent creation of its credentials, one store call and the rows.
func (s *Sim) vonxGroup(f Faults, conn string, g *vgroup, batch bool) ([]pyObj, error) {
	start := s.timerStart()
	defer s.timerStop(start)

	fail := func(msg string) ([]pyObj, error) {
		rows := make([]pyObj, len(g.attrs))
		for i := range rows {
			rows[i] = pyObj{{"success", false}, {"result", msg}}
		}
		s.countRejected(len(rows))
		return rows, nil
	}
	if conn != s.cfg.Issuer {
		return fail("Unknown connection id: " + conn)
	}
	if !s.Synced() {
		return fail("Connection is not yet synchronized: " + conn)
	}
	var typ Schema
	ok := false
	if g.schema.kind == 's' {
		typ, ok = findVonX(s.types, g.schema.s, g.version.s)
	}
	if !ok {
		return fail(fmt.Sprintf("Could not locate credential type: %v/%v None", g.schema, g.version))
	}

	if err := s.createCreds(s.ctx, f, len(g.attrs)); err != nil {
		return nil, err
	}
	rules := matchRules(f.Rejections, typ, g.attrs)
	if rules.timeout != nil {
		if err := s.pause(s.ctx, s.storeTimeout(f)); err != nil {
			return nil, err
		}
		return fail(orResult(rules.timeout, "Connection timed out during post_json"))
	}
	if err := s.pause(s.ctx, s.sample(f.Latency)); err != nil {
		return nil, err
	}
	if r := rules.group; r != nil {
		return fail(orResult(r, fmt.Sprintf("Bad response from post_json: (%d) %s", r.status(), r.message())))
	}
	rows := make([]pyObj, len(g.attrs))
	rejected := 0
	for i, attrs := range g.attrs {
		if r := rules.rows[i]; r != nil {
			rows[i] = pyObj{{"success", false}, {"result", orResult(r, "Credential was not stored: "+r.message())}}
			if batch && f.ServedBy != "" {
				rows[i] = append(rows[i], pyKV{"served_by", f.ServedBy})
			}
			rejected++
			continue
		}
		id := s.newID()
		s.record(typ.Name, typ.Version, attrs, id)
		rows[i] = pyObj{{"success", true}, {"result", id}}
		if f.ServedBy != "" {
			rows[i] = append(rows[i], pyKV{"served_by", f.ServedBy})
		}
	}
	s.countRejected(rejected)
	return rows, nil
}

func orResult(r *Rejection, def string) string {
	if r.Result != "" {
		return r.Result
	}
	return def
}

// matched are the rejection rules that apply to a group.
type matched struct {
	timeout *Rejection   // a timeout rule matching the group or one of its rows
	group   *Rejection   // a rule without attribute matching the group
	rows    []*Rejection // per item, the first attribute rule matching it
}

func matchRules(rules Rejections, typ Schema, attrs []json.RawMessage) matched {
	m := matched{rows: make([]*Rejection, len(attrs))}
	for i := range rules {
		r := &rules[i]
		if (r.Schema != "" && r.Schema != typ.Name) || (r.Version != "" && r.Version != typ.Version) {
			continue
		}
		if r.Attribute == "" {
			if r.Timeout && m.timeout == nil {
				m.timeout = r
			}
			if !r.Timeout && m.group == nil {
				m.group = r
			}
			continue
		}
		for j, a := range attrs {
			if !attributeMatches(a, r.Attribute, r.Value) {
				continue
			}
			if r.Timeout {
				if m.timeout == nil {
					m.timeout = r
				}
			} else if m.rows[j] == nil {
				m.rows[j] = r
			}
		}
	}
	return m
}

// attributeMatches reports whether the attribute name of the JSON object
// attrs has the value want written as text ("*": any value of a present
// attribute).
func attributeMatches(attrs json.RawMessage, name, want string) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(attrs, &obj) != nil {
		return false
	}
	raw, ok := obj[name]
	if want == "*" {
		return ok
	}
	got := ""
	if raw = bytes.TrimSpace(raw); ok && string(raw) != "null" {
		if raw[0] == '"' {
			json.Unmarshal(raw, &got)
		} else {
			got = string(raw)
		}
	}
	return got == want
}

// compact removes insignificant space from a valid JSON text.
func compact(raw []byte) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return bytes.Clone(raw)
	}
	return b.Bytes()
}
