package agentsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// ReceivedPage is the reply of GET /_sim/received: the issued credentials
// after the first since, and the number recorded in all.
type ReceivedPage struct {
	Received []Received `json:"received"`
	Total    int        `json:"total"`
}

// serveControl serves the control API under /_sim/.
//
//	GET  /_sim/received[?since=N]  ReceivedPage
//	GET  /_sim/stats               Stats
//	GET  /_sim/faults              Faults
//	POST /_sim/faults              change the fields in the body; returns the Faults in effect
//	POST /_sim/reset               clear the record and the counters; 204
//
// Errors are {"error": "…"} with a 4xx status.
func (s *Sim) serveControl(w http.ResponseWriter, r *http.Request) {
	method := func(ms ...string) bool {
		for _, m := range ms {
			if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
				return true
			}
		}
		w.Header().Set("Allow", strings.Join(ms, ", "))
		controlError(w, http.StatusMethodNotAllowed, "method not allowed")
		return false
	}
	switch r.URL.Path {
	case "/_sim/received":
		if !method(http.MethodGet) {
			return
		}
		since := 0
		if v := r.URL.Query().Get("since"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				controlError(w, http.StatusBadRequest, fmt.Sprintf("since: %q is not a count", v))
				return
			}
			since = n
		}
		s.mu.Lock()
		page := ReceivedPage{Received: s.receivedLocked(since), Total: len(s.received)}
		s.mu.Unlock()
		controlJSON(w, http.StatusOK, page)
	case "/_sim/stats":
		if method(http.MethodGet) {
			controlJSON(w, http.StatusOK, s.Stats())
		}
	case "/_sim/faults":
		if !method(http.MethodGet, http.MethodPost) {
			return
		}
		if r.Method == http.MethodPost {
			f, err := mergeFaults(s.Faults(), r.Body)
			if err == nil {
				err = s.SetFaults(f)
			}
			if err != nil {
				controlError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		controlJSON(w, http.StatusOK, faultsOut(s.Faults()))
	case "/_sim/orgbook/drift":
		if !method(http.MethodPost) {
			return
		}
		var d Drift
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			controlError(w, http.StatusBadRequest, "drift: "+err.Error())
			return
		}
		if err := s.Drift(d); err != nil {
			controlError(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "/_sim/orgbook/flush":
		if !method(http.MethodPost) {
			return
		}
		if err := s.FlushOrgBook(r.Context()); err != nil {
			controlError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "/_sim/reset":
		if method(http.MethodPost) {
			s.Reset()
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		controlError(w, http.StatusNotFound, "not found")
	}
}

// mergeFaults applies the fields present in a JSON body to f.
func mergeFaults(f Faults, body io.Reader) (Faults, error) {
	b, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return f, fmt.Errorf("read faults: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return f, fmt.Errorf("faults: %w", err)
	}
	if _, ok := fields["rejections"]; ok {
		f.Rejections = nil // replaced, not merged element by element
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		return f, fmt.Errorf("faults: %w", err)
	}
	return f, nil
}

// faultsOut writes an empty rule list as [] rather than null.
func faultsOut(f Faults) Faults {
	if f.Rejections == nil {
		f.Rejections = Rejections{}
	}
	return f
}

func controlJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		controlError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, status, "application/json", b.Bytes())
}

func controlError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	writeBody(w, status, "application/json", append(b, '\n'))
}
