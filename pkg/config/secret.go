package config

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"go.uber.org/zap/zapcore"
)

// Secret is a string that never prints: fmt, JSON, text encoders and zap all
// see "[REDACTED]". Use Value to read it.
type Secret string

const redacted = "[REDACTED]"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String implements fmt.Stringer (used by %v and %s).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer (used by %#v).
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText redacts in encoders (JSON, YAML, zap reflection).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Format implements fmt.Formatter so no verb (%x, %q, %d) reveals the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// URL is a connection URL, or a comma-separated list of them (NATS servers,
// agents), that may carry credentials. It prints with every credential
// replaced, so logs and errors show which server without the secrets.
type URL Secret

// Value returns the full URL.
func (u URL) Value() string { return string(u) }

// String returns the URL with its credentials replaced (see RedactURL).
func (u URL) String() string { return RedactURL(string(u)) }

// MarshalText redacts the password in encoders.
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// Format implements fmt.Formatter so no verb reveals the password.
func (u URL) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(u.String())) }

// Credentials returns the secret parts of the URL (passwords, NATS tokens,
// password query values) as written and decoded, for ScrubError.
func (u URL) Credentials() []string { return credentials(string(u)) }

// mask replaces a credential in printed URLs.
const mask = "xxxxx"

// RedactURL returns a URL, or a comma-separated list of URLs, with every
// password, NATS token (a user without a password) and password query value
// replaced by xxxxx, and the fragment dropped. A password that was not
// percent-encoded (holding # / ? % or a comma) cannot be told from the rest
// reliably, so a value that does not parse cleanly is not shown at all.
func RedactURL(raw string) string {
	if out, ok := redactOne(raw); ok {
		return out
	}
	parts := strings.Split(raw, ",")
	if len(parts) == 1 {
		return redacted
	}
	for i, p := range parts {
		out, ok := redactOne(strings.TrimSpace(p))
		if !ok {
			// A piece of a broken password may look like a URL of its own.
			return redacted
		}
		parts[i] = out
	}
	return strings.Join(parts, ",")
}

// splitUserinfo cuts scheme://userinfo@rest at the last '@', as url.Parse
// does, but before any fragment or path, so a password holding # or / is
// still recognised as the password.
func splitUserinfo(raw string) (scheme, userinfo, rest string, hasUser, ok bool) {
	scheme, after, ok := strings.Cut(raw, "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/?#@:") {
		return "", "", "", false, false
	}
	if i := strings.LastIndex(after, "@"); i >= 0 {
		return scheme, after[:i], after[i+1:], true, true
	}
	return scheme, "", after, false, true
}

// ParseURL parses one connection URL strictly: besides url.Parse's checks,
// it refuses a fragment and an '@' outside the user information, which is
// what a password with an unencoded # / ? or @ produces (url.Parse accepts
// postgres://u:12#x@h as host u, port 12, so the password would end up in a
// host name and in error messages). Its error never quotes the value.
func ParseURL(raw string) (*url.URL, error) {
	p, err := url.Parse(raw)
	if err != nil {
		return nil, errNotURL
	}
	if strings.Contains(raw, "#") {
		return nil, errNotURL
	}
	if strings.Contains(raw, "@") {
		scheme, _, rest, _, ok := splitUserinfo(raw)
		if !ok || p.User == nil {
			return nil, errNotURL
		}
		q, err := url.Parse(scheme + "://" + rest)
		if err != nil || q.Host != p.Host {
			return nil, errNotURL
		}
	}
	return p, nil
}

var errNotURL = errors.New("not a valid URL; the value is not shown as it may hold a password: " +
	"percent-encode the user name and password (# / ? @ : % and spaces)")

// isNATS reports schemes where a user without a password is a token.
func isNATS(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "nats", "tls", "ws", "wss":
		return true
	}
	return false
}

func redactOne(raw string) (string, bool) {
	scheme, userinfo, rest, hasUser, ok := splitUserinfo(raw)
	if !ok {
		return "", false
	}
	p, err := url.Parse(scheme + "://" + rest)
	if err != nil || p.Host == "" && p.Opaque != "" {
		return "", false
	}
	p.Fragment, p.RawFragment = "", ""
	if p.RawQuery != "" {
		q, err := url.ParseQuery(p.RawQuery)
		if err != nil {
			return "", false
		}
		for k := range q {
			if isSecretKey(k) {
				q.Set(k, mask)
			}
		}
		p.RawQuery = q.Encode()
	}
	if hasUser {
		user, _, hasPW := strings.Cut(userinfo, ":")
		if u, err := url.PathUnescape(user); err == nil {
			user = u
		}
		switch {
		case hasPW:
			p.User = url.UserPassword(user, mask)
		case isNATS(scheme):
			p.User = url.User(mask)
		default:
			p.User = url.User(user)
		}
	}
	return p.String(), true
}

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || k == "token" || k == "secret"
}

// credentials lists the secret parts of raw (whole, and of each
// comma-separated piece), as written and percent-decoded.
func credentials(raw string) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if d, err := url.PathUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
		if d, err := url.QueryUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
	}
	pieces := []string{raw}
	if strings.Contains(raw, ",") {
		pieces = append(pieces, strings.Split(raw, ",")...)
	}
	for _, piece := range pieces {
		scheme, userinfo, rest, hasUser, ok := splitUserinfo(strings.TrimSpace(piece))
		if !ok {
			continue
		}
		if hasUser {
			if _, pw, hasPW := strings.Cut(userinfo, ":"); hasPW {
				add(pw)
			} else if isNATS(scheme) {
				add(userinfo)
			}
		}
		if _, query, found := strings.Cut(rest, "?"); found {
			for _, kv := range strings.Split(query, "&") {
				if k, v, _ := strings.Cut(kv, "="); isSecretKey(k) {
					add(strings.SplitN(v, "#", 2)[0])
				}
			}
		}
	}
	return out
}

// ScrubError returns err with every given secret (and its percent-encoded
// form) replaced by xxxxx in its message. It still wraps err, so errors.Is
// and errors.As classify it as before. Use it where a library's error may
// quote a URL or a value it was given.
func ScrubError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	scrubbed := scrubText(msg, secrets)
	if scrubbed == msg {
		return err
	}
	return &scrubbedError{msg: scrubbed, err: err}
}

func scrubText(msg string, secrets []string) string {
	var all []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		all = append(all, s, url.QueryEscape(s), url.PathEscape(s), url.UserPassword("", s).String()[1:])
	}
	// Longest first, so a secret that contains another is replaced whole.
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	for _, s := range all {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, mask)
		}
	}
	return msg
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// MarshalLogObject lets zap.Object print a redacted secret.
func (s Secret) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("value", s.String())
	return nil
}
