package config

import (
	"fmt"
	"net/url"

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

// URL is a connection URL that may carry a password. It prints with the
// password replaced, so logs show which server without the credentials.
type URL Secret

// Value returns the full URL.
func (u URL) Value() string { return string(u) }

// String returns the URL with any password replaced by "xxxxx".
func (u URL) String() string { return RedactURL(string(u)) }

// MarshalText redacts the password in encoders.
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// Format implements fmt.Formatter so no verb reveals the password.
func (u URL) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(u.String())) }

// RedactURL replaces the password of a URL (and of a key=value DSN) with xxxxx.
func RedactURL(raw string) string {
	p, err := url.Parse(raw)
	if err != nil || p.Scheme == "" {
		return redacted
	}
	if _, has := p.User.Password(); has {
		p.User = url.UserPassword(p.User.Username(), "xxxxx")
	}
	q := p.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		p.RawQuery = q.Encode()
	}
	return p.String()
}

// MarshalLogObject lets zap.Object print a redacted secret.
func (s Secret) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("value", s.String())
	return nil
}
