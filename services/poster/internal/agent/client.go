// Package agent is the HTTP client of the issuing agent the poster delivers
// credentials to: the VON-X issuer agent's batch API and the later aca-py
// issuer controller (docs/design/agent.md). Both take the same
// body, a JSON array of {"schema", "version", "attributes"}, and answer 200
// with one {"success", "result"} row per item, in order.
//
// The package decides once what a reply means: a request-level failure is a
// *RequestError (transport, timeout, status, content type, shape), and each
// row is classified by Classify as issued, rejected (permanent for that
// row), transient, or a configuration error of the agent.
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bcgov/bcreg-events/pkg/config"
)

// Item is one credential of a request body.
type Item struct {
	Schema  string `json:"schema"`
	Version string `json:"version"`
	// Attributes is a JSON object: a map, or its JSON text
	// (json.RawMessage) when Verbatim says the text is already what
	// encoding the map would give.
	Attributes any `json:"attributes"`
}

// Row is the agent's answer for one item, matched by position.
type Row struct {
	Success bool
	// Result is the credential id (VON-X) or thread id (controller) on
	// success, else the agent's message.
	Result string
}

// EncodeBody returns the request body for items: the JSON array both
// protocols take, written as encoding/json writes it (attribute keys
// sorted, <, > and & as they are), so the body of a given list is always
// the same bytes. Attributes given as JSON text (json.RawMessage, see
// Verbatim) are copied as they are.
func EncodeBody(items []Item) ([]byte, error) {
	n := 2
	for _, it := range items {
		if raw, ok := it.Attributes.(json.RawMessage); ok {
			n += len(raw)
		}
		n += 48 + len(it.Schema) + len(it.Version)
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		buf = append(buf, `{"schema":`...)
		if buf, err = appendJSON(buf, it.Schema); err != nil {
			return nil, err
		}
		buf = append(buf, `,"version":`...)
		if buf, err = appendJSON(buf, it.Version); err != nil {
			return nil, err
		}
		buf = append(buf, `,"attributes":`...)
		if raw, ok := it.Attributes.(json.RawMessage); ok {
			buf = append(buf, raw...)
		} else if buf, err = appendJSON(buf, it.Attributes); err != nil {
			return nil, err
		}
		buf = append(buf, '}')
	}
	return append(buf, ']'), nil
}

// appendJSON appends v as encoding/json writes it without HTML escapes; a
// string of plain printable ASCII is quoted directly.
func appendJSON(buf []byte, v any) ([]byte, error) {
	if s, ok := v.(string); ok && plainString(s) {
		buf = append(buf, '"')
		buf = append(buf, s...)
		return append(buf, '"'), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return append(buf, bytes.TrimRight(b.Bytes(), "\n")...), nil
}

// plainString reports whether encoding/json writes s quoted as it is.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Verbatim reports whether raw, a JSON object, is byte for byte what
// EncodeBody writes for the map[string]any it decodes to (with UseNumber):
// no escapes (EncodeBody writes <, > and & as they are, and non-ASCII as
// UTF-8), no space outside strings, every object's keys strictly ascending,
// valid UTF-8 without U+2028 and U+2029 (which encoding/json escapes).
// The bundles the outbox writes are such text unless a value needs an
// escape, so the poster passes their attributes on without a map per
// credential; it encodes the others as before.
func Verbatim(raw []byte) bool {
	_, ok := scanVerbatim(raw)
	return ok
}

// WithAttribute returns the verbatim object raw (see Verbatim) with one
// more top-level member key: value, in its sorted place: the text
// EncodeBody writes for raw's map with that member set. It reports false
// when raw is not verbatim or has the key already (the caller then sets it
// in the map).
func WithAttribute(raw []byte, key, value string) (json.RawMessage, bool) {
	top, ok := scanVerbatim(raw)
	if !ok || !plainString(key) {
		return nil, false
	}
	at := len(raw) - 1 // before the closing brace
	for _, m := range top {
		if c := bytes.Compare(m.key, []byte(key)); c == 0 {
			return nil, false
		} else if c > 0 {
			at = m.at
			break
		}
	}
	kv := make([]byte, 0, len(key)+len(value)+8)
	kv = append(kv, '"')
	kv = append(kv, key...)
	kv = append(kv, `":`...)
	kv, err := appendJSON(kv, value)
	if err != nil {
		return nil, false
	}
	out := make([]byte, 0, len(raw)+len(kv)+1)
	out = append(out, raw[:at]...)
	switch {
	case len(top) == 0:
		out = append(out, kv...)
	case at == len(raw)-1:
		out = append(append(out, ','), kv...)
	default:
		out = append(append(out, kv...), ',')
	}
	return append(out, raw[at:]...), true
}

// member is a top-level key of an object and where its member starts.
type member struct {
	key []byte
	at  int
}

// scanVerbatim is Verbatim; it also returns the object's top-level keys.
func scanVerbatim(raw []byte) ([]member, bool) {
	if len(raw) == 0 || raw[0] != '{' || bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) ||
		bytes.Contains(raw, []byte("\u2028")) || bytes.Contains(raw, []byte("\u2029")) {
		return nil, false
	}
	// One entry per open object or array: the object's last key (nil
	// before the first), and whether a key comes next.
	type open struct {
		object, wantKey bool
		last            []byte
	}
	var stack []open
	var top []member
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '{', '[':
			stack = append(stack, open{object: c == '{', wantKey: c == '{'})
		case '}', ']':
			if len(stack) == 0 {
				return nil, false
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 && i != len(raw)-1 {
				return nil, false
			}
		case ',':
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].wantKey = true
			}
		case '"':
			end := bytes.IndexByte(raw[i+1:], '"')
			if end < 0 {
				return nil, false
			}
			str := raw[i+1 : i+1+end]
			if t := len(stack) - 1; t >= 0 && stack[t].object && stack[t].wantKey {
				if stack[t].last != nil && bytes.Compare(stack[t].last, str) >= 0 {
					return nil, false
				}
				stack[t].last, stack[t].wantKey = str, false
				if t == 0 {
					top = append(top, member{key: str, at: i})
				}
			}
			i += end + 1
		case ' ', '\t', '\n', '\r':
			return nil, false
		}
	}
	return top, len(stack) == 0
}

// Kinds of request-level failure.
const (
	KindTransport   = "transport"    // no answer: refused, reset, dropped
	KindTimeout     = "timeout"      // no answer within the request timeout
	KindStatus      = "status"       // a status other than 200
	KindContentType = "content_type" // 200 that is not application/json
	KindShape       = "shape"        // 200 JSON of the wrong type or length
)

// RequestError is a request that got no usable answer. Every kind is
// transient except a status that says the agent is misconfigured
// (Misconfigured).
type RequestError struct {
	Kind   string
	Status int
	// RetryAfter is the agent's Retry-After, when it sent one.
	RetryAfter time.Duration
	Msg        string
	Err        error
}

func (e *RequestError) Error() string {
	var b strings.Builder
	b.WriteString("agent: ")
	b.WriteString(e.Kind)
	if e.Status != 0 {
		fmt.Fprintf(&b, " %d", e.Status)
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *RequestError) Unwrap() error { return e.Err }

// Misconfigured reports whether the failure means the agent (or its URL) is
// wrong rather than busy: 401, 403, 404 or 405 on the issue route. Retrying
// cannot help until an operator acts.
func (e *RequestError) Misconfigured() bool {
	if e.Kind != KindStatus {
		return false
	}
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
		return true
	}
	return false
}

// Client talks to one agent.
type Client struct {
	Endpoint Endpoint
	// HTTP is the client to use; nil means http.DefaultClient. The
	// per-request timeout comes from the context.
	HTTP *http.Client
	// MaxReply bounds the reply body read; zero means 16 MiB.
	MaxReply int64
}

// NewHTTPClient returns an http.Client whose transport keeps enough idle
// connections per agent for maxConns requests in flight.
func NewHTTPClient(maxConns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(100, maxConns*2)
	t.MaxIdleConnsPerHost = max(2, maxConns)
	t.ResponseHeaderTimeout = 0 // the request context bounds the wait
	return &http.Client{Transport: t}
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Issue posts items as one batch request and returns one row per item. An
// error is always a *RequestError.
func (c *Client) Issue(ctx context.Context, items []Item) ([]Row, error) {
	body, err := EncodeBody(items)
	if err != nil {
		return nil, &RequestError{Kind: KindShape, Msg: "encode request", Err: err}
	}
	return c.IssueBody(ctx, body, len(items))
}

// IssueBody posts an encoded body of n items (see EncodeBody).
func (c *Client) IssueBody(ctx context.Context, body []byte, n int) ([]Row, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint.IssueURL, bytes.NewReader(body))
	if err != nil {
		// The URL parser's message quotes the URL, credentials and all.
		err = config.ScrubError(err, config.URL(c.Endpoint.IssueURL).Credentials()...)
		return nil, &RequestError{Kind: KindTransport, Msg: "build request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	limit := c.MaxReply
	if limit <= 0 {
		limit = 16 << 20
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &RequestError{Kind: KindStatus, Status: resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), Msg: snippet(raw)}
	}
	// aiohttp's response.json() insisted on application/json (P2); a
	// proxy's HTML page with status 200 is not an answer.
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &RequestError{Kind: KindContentType, Status: resp.StatusCode,
			Msg: fmt.Sprintf("content type %q: %s", resp.Header.Get("Content-Type"), snippet(raw))}
	}
	rows, err := decodeRows(raw)
	if err != nil {
		return nil, &RequestError{Kind: KindShape, Status: resp.StatusCode, Msg: snippet(raw), Err: err}
	}
	if len(rows) != n {
		// P3: a short reply cannot be matched by position.
		return nil, &RequestError{Kind: KindShape, Status: resp.StatusCode,
			Msg: fmt.Sprintf("%d rows for %d credentials", len(rows), n)}
	}
	return rows, nil
}

// CheckHealth asks the agent's health endpoint; nil means healthy (200).
// VON-X answers 451 until it is synchronised, the controller 503.
func (c *Client) CheckHealth(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Endpoint.HealthURL, nil)
	if err != nil {
		err = config.ScrubError(err, config.URL(c.Endpoint.HealthURL).Credentials()...)
		return fmt.Errorf("health %s: %w", config.RedactURL(c.Endpoint.HealthURL), err)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("health %s: %w", config.RedactURL(c.Endpoint.HealthURL), transportError(ctx, err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health %s: status %d", config.RedactURL(c.Endpoint.HealthURL), resp.StatusCode)
	}
	return nil
}

func transportError(ctx context.Context, err error) *RequestError {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &RequestError{Kind: KindTimeout, Err: err}
	}
	return &RequestError{Kind: KindTransport, Err: err}
}

// decodeRows reads a batch reply: an array of objects with a boolean
// success and a result (a string; anything else is kept as its JSON text).
func decodeRows(raw []byte) ([]Row, error) {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("reply is not an array of objects: %w", err)
	}
	rows := make([]Row, len(items))
	for i, it := range items {
		var ok bool
		if err := json.Unmarshal(it["success"], &ok); err != nil {
			return nil, fmt.Errorf("row %d: success is not a boolean", i)
		}
		rows[i].Success = ok
		res := bytes.TrimSpace(it["result"])
		switch {
		case len(res) == 0 || string(res) == "null":
		case res[0] == '"':
			if err := json.Unmarshal(res, &rows[i].Result); err != nil {
				return nil, fmt.Errorf("row %d: result: %w", i, err)
			}
		default:
			rows[i].Result = string(res)
		}
	}
	return rows, nil
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
