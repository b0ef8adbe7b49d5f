package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/config"
)

var funcs = template.FuncMap{
	"ts": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.Format("2006-01-02 15:04:05")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.Format("2006-01-02 15:04:05")
		}
		return fmt.Sprint(t)
	},
	"list": func(v ...string) []string { return v },
	"ms":   func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) },
}

// page is what the layout gets.
type page struct {
	Title    string
	Nav      string
	CSRF     string
	Writable bool
	Refresh  int // seconds; 0: no refresh
	Settings []Setting
	Flash    string
	Data     any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	s.renderStatus(w, r, http.StatusOK, name, title, data)
}

func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, code int, name, title string, data any) {
	p := page{Title: title, Nav: name, CSRF: s.csrfToken(w, r), Writable: s.opt.Token != "",
		Settings: s.opt.Settings, Flash: r.URL.Query().Get("done"), Data: data}
	if name == "overview" {
		p.Refresh = int(s.opt.Refresh.Seconds())
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.opt.Log.Error("console: render", zap.String("page", name), zapErr(err))
		http.Error(w, "page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// message renders a short page with a status code (errors, refusals).
func (s *Server) message(w http.ResponseWriter, r *http.Request, code int, title, text string) {
	s.renderStatus(w, r, code, "message", title, struct {
		Code int
		Text string
	}{code, text})
}

// fail reports a server-side error without its details (they may name
// servers); the log has them.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.opt.Log.Warn("console: request failed", zap.String("path", r.URL.Path), zapErr(err))
	code := http.StatusBadGateway
	if errors.Is(err, context.Canceled) {
		code = http.StatusServiceUnavailable
	}
	s.message(w, r, code, "Unavailable", "The figures could not be read: "+redactURLs(err.Error()))
}

var urlPattern = regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^\s"'<>]+`)

// redactURLs replaces the password of every URL in a text.
func redactURLs(s string) string { return urlPattern.ReplaceAllStringFunc(s, config.RedactURL) }

func zapErr(err error) zap.Field { return zap.Error(err) }

func stringField(k, v string) zap.Field { return zap.String(k, v) }
