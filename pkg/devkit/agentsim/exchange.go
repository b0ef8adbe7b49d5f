package agentsim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// exchange is one issue request and its reply.
type exchange struct {
	s    *Sim
	w    http.ResponseWriter
	r    *http.Request
	code string // reply code for metrics, "" until answered
	ok   bool   // answered 200 with JSON
}

// handleIssue wraps an issue request with the in-flight and outcome
// accounting.
func (s *Sim) handleIssue(w http.ResponseWriter, r *http.Request, fn func(x *exchange)) {
	x := &exchange{s: s, w: w, r: r}
	s.mu.Lock()
	s.stats.Requests++
	s.stats.InFlight++
	s.stats.MaxInFlight = max(s.stats.MaxInFlight, s.stats.InFlight)
	s.mu.Unlock()
	s.m.requestsInFlight.Inc()
	start := time.Now()
	defer func() {
		// Nothing written means the client went away or the simulator was
		// closed: close the connection rather than let net/http answer an
		// empty 200 (after the accounting, as closing may panic).
		aborted := x.code == ""
		if aborted {
			x.code = "aborted"
			defer x.closeConn()
		}
		s.mu.Lock()
		s.stats.InFlight--
		if !x.ok {
			s.stats.Failed++
		}
		s.mu.Unlock()
		s.m.requestsInFlight.Dec()
		s.m.requests.WithLabelValues(x.code).Inc()
		s.log.Debug("agentsim: issue request",
			zap.String("method", r.Method),
			zap.String("uri", r.RequestURI),
			zap.String("code", x.code),
			zap.Duration("elapsed", time.Since(start)))
	}()
	if s.ctx.Err() != nil {
		x.drop("aborted")
		return
	}
	fn(x)
}

// send writes a reply.
func (x *exchange) send(status int, contentType string, body []byte) {
	h := x.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	x.w.WriteHeader(status)
	x.w.Write(body)
	x.code = strconv.Itoa(status)
}

// json writes a 200 JSON reply.
func (x *exchange) json(contentType string, body []byte) {
	x.send(http.StatusOK, contentType, body)
	x.ok = true
}

// text writes an aiohttp text/plain reply.
func (x *exchange) text(status int, msg string) {
	x.send(status, "text/plain; charset=utf-8", []byte(msg))
}

// aiohttp500 writes aiohttp's reply to an unhandled exception, which also
// closes the connection.
func (x *exchange) aiohttp500() {
	x.w.Header().Set("Connection", "close")
	x.send(http.StatusInternalServerError, "text/html; charset=utf-8", []byte(aiohttp500))
}

// werkzeug writes a Werkzeug HTML error page.
func (x *exchange) werkzeug(status int, description string) {
	x.send(status, "text/html; charset=utf-8", []byte(werkzeugPage(status, description)))
}

// drop closes the connection without a reply.
func (x *exchange) drop(code string) {
	x.code = code
	x.closeConn()
}

// closeConn closes the connection without a reply.
func (x *exchange) closeConn() { closeConn(x.w) }

// closeConn closes w's connection, or aborts the reply where the
// connection cannot be taken over (HTTP/2).
func closeConn(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// plan is the faults chosen for one request.
type plan struct {
	hang    bool
	outcome string // "", "drop", "error", "non_json" or "short"
}

// roll chooses the faults of one request. It always draws the same numbers,
// so a seed gives the same sequence whatever the rates.
func (s *Sim) roll(f Faults) plan {
	s.mu.Lock()
	r := s.faultRNG
	drop, fail, nonJSON, short, hang := r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.Float64()
	s.mu.Unlock()
	p := plan{hang: hang < f.HangRate}
	switch {
	case drop < f.DropRate:
		p.outcome = "drop"
	case fail < f.ErrorRate:
		p.outcome = "error"
	case nonJSON < f.NonJSONRate:
		p.outcome = "non_json"
	case short < f.ShortRate:
		p.outcome = "short"
	}
	return p
}

// nonJSONPage is the body of a P2 reply.
const nonJSONPage = "<html><head><title>Service</title></head><body>" +
	"<p>The service is busy. Please try again later.</p></body></html>\n"

// inject runs the hang and reply fault of p. It reports whether the request
// is finished.
func (s *Sim) inject(x *exchange, f Faults, p plan) (finished bool) {
	if p.hang {
		s.countInjected("hang")
		if !s.hang(x.r.Context(), f.HangFor) {
			x.drop("aborted")
			return true
		}
	}
	switch p.outcome {
	case "drop":
		s.countInjected("drop")
		x.drop("dropped")
		return true
	case "error":
		s.countInjected("error")
		s.errorReply(x, f.ErrorStatus)
		return true
	case "non_json":
		s.countInjected("non_json")
		x.send(http.StatusOK, "text/html; charset=utf-8", []byte(nonJSONPage))
		return true
	}
	return false
}

// hang waits for d (forever when d is zero), or until the client disconnects
// or the simulator is closed. It reports whether the wait ran its course.
func (s *Sim) hang(reqCtx context.Context, d Duration) bool {
	ctx, cancel := context.WithCancel(reqCtx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	if d <= 0 {
		<-ctx.Done()
		return false
	}
	return s.pause(ctx, time.Duration(d)) == nil
}

// errorReply writes an injected 5xx in the style of the simulated server.
func (s *Sim) errorReply(x *exchange, status int) {
	switch {
	case s.cfg.Mode == ModeController:
		x.werkzeug(status, "")
	case status == http.StatusInternalServerError:
		x.aiohttp500()
	default:
		x.text(status, aiohttpText(status))
	}
}

// overloaded answers a request refused by the queue limit.
func (s *Sim) overloaded(x *exchange, f Faults) {
	s.countInjected("overload")
	if f.Overload == OverloadHang && !s.hang(x.r.Context(), f.HangFor) {
		x.drop("aborted")
		return
	}
	if s.cfg.Mode == ModeController {
		x.werkzeug(http.StatusServiceUnavailable, "")
		return
	}
	x.text(http.StatusServiceUnavailable, aiohttpText(http.StatusServiceUnavailable))
}

// readBody reads the request body, at most limit bytes plus one when limit
// is positive; tooBig reports a body of limit bytes or more, n its size.
func readBody(r *http.Request, limit int64) (body []byte, n int64, tooBig bool, err error) {
	const hardLimit = 64 << 20
	rd := io.Reader(r.Body)
	rd = io.LimitReader(rd, hardLimit+1)
	body, err = io.ReadAll(rd)
	n = int64(len(body))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, n, true, nil
		}
		return nil, n, false, err
	}
	if n > hardLimit || (limit > 0 && n >= limit) {
		if n > hardLimit {
			// Count the rest without keeping it.
			rest, _ := io.Copy(io.Discard, r.Body)
			n += rest
		}
		return nil, n, true, nil
	}
	return body, n, false, nil
}
