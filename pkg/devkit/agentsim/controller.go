package agentsim

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

const flaskJSONType = "application/json"

// serveController routes a request the way the bcreg-aca Flask application
// does.
func (s *Sim) serveController(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/issue-credential", "/issue-credential-v20":
		if allowFlask(w, r, "POST") {
			s.handleIssue(w, r, s.controllerIssue)
		}
	case "/readiness":
		if allowFlask(w, r, "GET") {
			s.controllerProbe(w, "Connection not ready to process requests")
		}
	case "/health":
		if allowFlask(w, r, "GET") {
			s.controllerProbe(w, "Connection not yet synced")
		}
	case "/liveness":
		if allowFlask(w, r, "GET") {
			writeBody(w, http.StatusOK, flaskJSONType, []byte("{\"success\":true}\n"))
		}
	default:
		writeBody(w, http.StatusNotFound, flaskJSONType, []byte("{\"error\":\"Not found\"}\n"))
	}
}

// allowFlask answers OPTIONS and wrong methods the way Flask does for a
// route with the given method (GET routes also take HEAD).
func allowFlask(w http.ResponseWriter, r *http.Request, method string) bool {
	allowed := []string{method, "OPTIONS"}
	if method == "GET" {
		allowed = []string{"GET", "HEAD", "OPTIONS"}
	}
	for _, m := range allowed {
		if r.Method == m && m != "OPTIONS" {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	if r.Method == "OPTIONS" {
		writeBody(w, http.StatusOK, "text/html; charset=utf-8", nil)
		return false
	}
	writeBody(w, http.StatusMethodNotAllowed, "text/html; charset=utf-8", []byte(werkzeugPage(http.StatusMethodNotAllowed, "")))
	return false
}

// controllerProbe answers /readiness and /health.
func (s *Sim) controllerProbe(w http.ResponseWriter, unsynced string) {
	if s.Synced() {
		writeBody(w, http.StatusOK, flaskJSONType, []byte("{\"success\":true}\n"))
		return
	}
	writeBody(w, http.StatusServiceUnavailable, "text/html; charset=utf-8", []byte(werkzeugPage(http.StatusServiceUnavailable, unsynced)))
}

// controllerIssue is submit_credential with handle_send_credential: the
// credentials are issued one after another, and an item the controller
// cannot handle raises (HTTP 500) after the items before it were issued.
func (s *Sim) controllerIssue(x *exchange) {
	if !s.Synced() {
		x.werkzeug(http.StatusServiceUnavailable, "Connection not yet synced")
		return
	}
	body, _, tooBig, err := readBody(x.r, 0)
	switch {
	case err != nil:
		x.drop("aborted")
		return
	case tooBig:
		x.werkzeug(http.StatusRequestEntityTooLarge, "The data value transmitted exceeds the capacity limit.")
		return
	case !isJSONMime(x.r.Header.Get("Content-Type")),
		!utf8.Valid(body), !json.Valid(body), pyFalsy(bytes.TrimSpace(body)):
		// request.json is None (older Flask) or the body does not parse,
		// or it is empty: abort(400).
		x.werkzeug(http.StatusBadRequest, "")
		return
	}
	body = bytes.TrimSpace(body)
	if body[0] != '[' {
		// Iterating an object, a string or a number and indexing the
		// result raises TypeError.
		x.werkzeug(http.StatusInternalServerError, "")
		return
	}
	var items []json.RawMessage
	json.Unmarshal(body, &items)

	f := s.snapshot()
	p := s.roll(f)
	if !f.AfterIssue && s.inject(x, f, p) {
		return
	}
	if !s.admit(len(items), f) {
		s.overloaded(x, f)
		return
	}
	defer s.unadmit(len(items))

	rows := make([]pyObj, 0, len(items))
	for _, item := range items {
		typ, attrs, ok := s.controllerItem(item)
		if !ok {
			x.werkzeug(http.StatusInternalServerError, "")
			return
		}
		row, err := s.controllerSend(f, typ, attrs)
		if err != nil {
			return // closed
		}
		rows = append(rows, row)
	}

	if f.AfterIssue && s.inject(x, f, p) {
		return
	}
	if p.outcome == "short" {
		s.countInjected("short")
		rows = rows[:len(rows)-1]
	}
	x.json(flaskJSONType, append(pyDumps(rows, flaskJSON), '\n'))
}

// controllerItem checks one item as handle_send_credential uses it: an
// object with string schema and version of a configured type, and
// attributes it can iterate and index. It returns the attributes to record.
func (s *Sim) controllerItem(item json.RawMessage) (Schema, json.RawMessage, bool) {
	item = bytes.TrimSpace(item)
	if item[0] != '{' {
		return Schema{}, nil, false
	}
	var obj map[string]json.RawMessage
	json.Unmarshal(item, &obj)
	schema, version := toPyVal(obj["schema"], obj["schema"] != nil), toPyVal(obj["version"], obj["version"] != nil)
	if schema.kind != 's' || version.kind != 's' {
		return Schema{}, nil, false
	}
	typ, ok := findExact(s.types, schema.s, version.s)
	if !ok {
		return Schema{}, nil, false // KeyError
	}
	attrs := bytes.TrimSpace(obj["attributes"])
	switch {
	case len(attrs) == 0:
		return Schema{}, nil, false // KeyError
	case attrs[0] == '{':
		return typ, compact(attrs), true
	case string(attrs) == `""` || string(compact(attrs)) == "[]":
		return typ, json.RawMessage("{}"), true // nothing to iterate
	}
	return Schema{}, nil, false // TypeError
}

// controllerSend issues one credential through the simulated aca-py and
// waits for its webhook.
func (s *Sim) controllerSend(f Faults, typ Schema, attrs json.RawMessage) (pyObj, error) {
	threadID := s.newID()
	if err := s.createCred(s.ctx, f); err != nil {
		return nil, err
	}
	attrList := []json.RawMessage{attrs}
	rules := matchRules(f.Rejections, typ, attrList)
	if r := rules.timeout; r != nil {
		if err := s.pause(s.ctx, s.storeTimeout(f)); err != nil {
			return nil, err
		}
		s.countRejected(1)
		return pyObj{{"success", false}, {"result", orResult(r, threadID+"::Error thread timeout")}}, nil
	}
	if err := s.pause(s.ctx, s.sample(f.Latency)); err != nil {
		return nil, err
	}
	r := rules.group
	if rules.rows[0] != nil {
		r = rules.rows[0]
	}
	if r != nil {
		s.countRejected(1)
		return pyObj{{"success", false}, {"result", orResult(r, threadID+"::"+r.message())}}, nil
	}
	s.record(typ.Name, typ.Version, attrs, threadID)
	return pyObj{{"success", true}, {"result", threadID}}, nil
}

// isJSONMime is Werkzeug's is_json: application/json or application/*+json.
func isJSONMime(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// pyFalsy reports whether a JSON text is falsy in Python: null, false, 0,
// "", [] or {}.
func pyFalsy(body []byte) bool {
	switch c := compact(body); {
	case len(c) == 0:
		return true
	case string(c) == "null", string(c) == "false", string(c) == `""`, string(c) == "[]", string(c) == "{}":
		return true
	case c[0] == '-' || (c[0] >= '0' && c[0] <= '9'):
		f, err := strconv.ParseFloat(string(c), 64)
		return err == nil && f == 0
	}
	return false
}
