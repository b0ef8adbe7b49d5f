package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

const (
	csrfCookie  = "bcreg_console_csrf"
	csrfField   = "csrf"
	tokenField  = "token"
	tokenHeader = "X-Console-Token"
)

// csrfToken returns the session's CSRF token, setting the cookie on first
// use. The token is random per browser session; forms echo it in a hidden
// field, which another site cannot read.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 64 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	// Reuse within this request (the page renders after the header is set).
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: v})
	return v
}

// equal compares secrets in constant time; hashing first hides the length.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// guard admits a state-changing request only when the console has a token,
// the request carries it (form field or header), and its CSRF field matches
// the session cookie. The same-origin check is CrossOriginProtection's,
// around every route.
func (s *Server) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			s.message(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
			return
		}
		if s.opt.Token == "" {
			s.refuse(w, r, "the console is read-only: set BCREG_CONSOLE_TOKEN to enable actions")
			return
		}
		tok := r.PostForm.Get(tokenField)
		if tok == "" {
			tok = r.Header.Get(tokenHeader)
		}
		if tok == "" || !equal(tok, s.opt.Token) {
			s.refuse(w, r, "missing or wrong console token")
			return
		}
		c, err := r.Cookie(csrfCookie)
		if err != nil || c.Value == "" || !equal(c.Value, r.PostForm.Get(csrfField)) {
			s.refuse(w, r, "the form's CSRF token does not match this session: reload the page and try again")
			return
		}
		h(w, r)
	}
}

// refuse answers 403 and logs the refusal (never the token).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, why string) {
	s.metrics.refused.Inc()
	s.opt.Log.Warn("console: refused", stringField("path", r.URL.Path), stringField("why", why),
		stringField("remote", r.RemoteAddr))
	s.message(w, r, http.StatusForbidden, "Forbidden", "Refused: "+why+".")
}

// confirmed reports whether the form's confirmation box was ticked.
func confirmed(r *http.Request) bool { return strings.EqualFold(r.PostForm.Get("confirm"), "yes") }
