// Package canonical produces the credential text of the original Python
// pipeline, json.dumps(credential, sort_keys=True), byte for byte, and the
// SHA-256 hash stored with it (docs/design/generation.md §1).
//
// The hash is the only de-duplication of credentials, so the text must match
// Python's exactly: keys sorted by code point at every level, separators
// ", " and ": ", and ensure_ascii escaping (everything outside printable
// ASCII as \uXXXX, UTF-16 surrogate pairs above U+FFFF). Go's encoding/json
// differs on all of these, and escapes <, > and & as well.
package canonical

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Object is a JSON object. Marshal writes its keys sorted, so map order does
// not matter.
type Object map[string]any

// ErrUnsupported reports a value Marshal does not encode. Credentials hold
// only strings, null and (perhaps) integers; floats are rejected rather than
// risk differing from Python's float repr.
var ErrUnsupported = errors.New("unsupported value")

// maxDepth bounds nesting, far beyond any credential, so that a map that
// contains itself fails (as Python's "Circular reference detected") instead
// of overflowing the stack.
const maxDepth = 1000

// Marshal returns the text Python's json.dumps(v, sort_keys=True) gives for
// the equivalent Python value. It accepts:
//
//   - nil (null), bool, string (valid UTF-8);
//   - Go integer types, and json.Number holding an integer (as decoded with
//     json.Decoder.UseNumber), written in decimal as Python writes an int;
//   - Object, map[string]any and map[string]string;
//   - []any and []string.
//
// Any other value, including floats, fails with an error wrapping
// ErrUnsupported that names the value's path.
func Marshal(v any) ([]byte, error) {
	e := getEncoder()
	defer putEncoder(e)
	if err := e.encode(v); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf), nil
}

// MarshalHashed returns Marshal's text as a string and its Hash, what a
// credential stores: the text is built in a reused buffer and copied once.
func MarshalHashed(v any) (text, hash string, err error) {
	e := getEncoder()
	defer putEncoder(e)
	if err := e.encode(v); err != nil {
		return "", "", err
	}
	return string(e.buf), Hash(e.buf), nil
}

// Hash returns the lowercase hex SHA-256 of text, as stored in
// CREDENTIAL_HASH.
func Hash(text []byte) string {
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:])
}

// encoder appends one value's text to buf. keys is scratch space for the
// sorted keys of the objects being written: each object appends its keys
// after its parent's and truncates them when done.
type encoder struct {
	buf  []byte
	keys []string
}

// encoders are reused: a credential is a few hundred bytes, written
// thousands of times a second by a builder.
var encoders = sync.Pool{New: func() any { return &encoder{buf: make([]byte, 0, 1024)} }}

func getEncoder() *encoder { return encoders.Get().(*encoder) }

func putEncoder(e *encoder) {
	if cap(e.buf) > 1<<16 {
		return // an outsized value: do not keep its buffer
	}
	e.buf = e.buf[:0]
	clear(e.keys[:cap(e.keys)]) // no strings kept alive by the pool
	e.keys = e.keys[:0]
	encoders.Put(e)
}

func (e *encoder) encode(v any) error {
	if err := e.value(v, 0); err != nil {
		var pe *pathError
		if errors.As(err, &pe) {
			pe.path = "$" + pe.path
		}
		return err
	}
	return nil
}

// pathError is an unsupported value; path locates it ($.key[1]...), built
// while the error returns through the levels above it, so that encoding a
// supported value builds no paths at all.
type pathError struct {
	path   string
	reason string
}

func (p *pathError) Error() string { return "canonical: " + p.path + ": " + p.reason }
func (p *pathError) Unwrap() error { return ErrUnsupported }

func unsupported(format string, args ...any) error {
	return &pathError{reason: ErrUnsupported.Error() + ": " + fmt.Sprintf(format, args...)}
}

// within prefixes the path of an error from a nested value with seg.
func within(err error, seg string) error {
	var pe *pathError
	if errors.As(err, &pe) {
		pe.path = seg + pe.path
	}
	return err
}

// value appends v.
func (e *encoder) value(v any, depth int) error {
	if depth > maxDepth {
		return &pathError{reason: fmt.Sprintf("nested more than %d levels (circular?): %v", maxDepth, ErrUnsupported)}
	}
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, v)
	case string:
		return e.string(v)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int8:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int16:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, v, 10)
	case uint:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint8:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint16:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint32:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, v, 10)
	case json.Number:
		return e.number(v)
	case Object:
		return object(e, v, depth)
	case map[string]any:
		return object(e, v, depth)
	case map[string]string:
		return object(e, v, depth)
	case []any:
		return list(e, v, depth)
	case []string:
		return list(e, v, depth)
	default:
		return unsupported("%T", v)
	}
	return nil
}

// number appends an integer json.Number as Python prints the int it parses
// to: "-0" as 0, any size.
func (e *encoder) number(n json.Number) error {
	s := string(n)
	if !isJSONInteger(s) {
		return unsupported("number %q is not a JSON integer", s)
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		e.buf = strconv.AppendInt(e.buf, i, 10)
		return nil
	}
	var b big.Int
	b.SetString(s, 10) // cannot fail: s is -?digits
	e.buf = b.Append(e.buf, 10)
	return nil
}

// isJSONInteger reports whether s is a JSON number without fraction or
// exponent: -?(0|[1-9][0-9]*).
func isJSONInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	return strings.Trim(s, "0123456789") == ""
}

// object appends m with its keys in code-point order; for valid UTF-8 that
// is byte order, Go's string order.
func object[V any](e *encoder, m map[string]V, depth int) error {
	from := len(e.keys)
	for k := range m {
		e.keys = append(e.keys, k)
	}
	defer func() { e.keys = e.keys[:from] }()
	slices.Sort(e.keys[from:])
	e.buf = append(e.buf, '{')
	for i := from; i < len(e.keys); i++ {
		k := e.keys[i] // e.keys may grow (nested objects): index it afresh
		if i > from {
			e.buf = append(e.buf, ", "...)
		}
		if err := e.string(k); err != nil {
			return within(err, "."+k)
		}
		e.buf = append(e.buf, ": "...)
		if err := e.value(m[k], depth+1); err != nil {
			return within(err, "."+k)
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// list appends l as [a, b].
func list[V any](e *encoder, l []V, depth int) error {
	e.buf = append(e.buf, '[')
	for i, v := range l {
		if i > 0 {
			e.buf = append(e.buf, ", "...)
		}
		if err := e.value(v, depth+1); err != nil {
			return within(err, "["+strconv.Itoa(i)+"]")
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

const hexDigits = "0123456789abcdef"

// string appends s quoted as Python's ensure_ascii encoder does: only the
// printable ASCII characters ' ' to '~' pass through (so DEL is escaped),
// with short escapes for " \ \b \f \n \r \t and \uXXXX (lowercase) for the
// rest, characters above U+FFFF as a UTF-16 surrogate pair.
func (e *encoder) string(s string) error {
	e.buf = append(e.buf, '"')
	// Most text is printable ASCII without quotes or backslashes: copy
	// that run at once, escape from the first byte that needs it.
	i := 0
	for i < len(s) && s[i] >= ' ' && s[i] <= '~' && s[i] != '"' && s[i] != '\\' {
		i++
	}
	e.buf = append(e.buf, s[:i]...)
	if i < len(s) {
		if !utf8.ValidString(s[i:]) {
			return unsupported("string is not valid UTF-8")
		}
		e.escape(s[i:])
	}
	e.buf = append(e.buf, '"')
	return nil
}

// escape appends valid UTF-8 s, escaped as string describes.
func (e *encoder) escape(s string) {
	for _, r := range s {
		switch r {
		case '"':
			e.buf = append(e.buf, `\"`...)
		case '\\':
			e.buf = append(e.buf, `\\`...)
		case '\b':
			e.buf = append(e.buf, `\b`...)
		case '\f':
			e.buf = append(e.buf, `\f`...)
		case '\n':
			e.buf = append(e.buf, `\n`...)
		case '\r':
			e.buf = append(e.buf, `\r`...)
		case '\t':
			e.buf = append(e.buf, `\t`...)
		default:
			switch {
			case r >= ' ' && r <= '~':
				e.buf = append(e.buf, byte(r))
			case r > 0xFFFF:
				hi, lo := utf16.EncodeRune(r)
				e.unicodeEscape(hi)
				e.unicodeEscape(lo)
			default:
				e.unicodeEscape(r)
			}
		}
	}
}

// unicodeEscape appends \uXXXX for a code unit r <= 0xFFFF.
func (e *encoder) unicodeEscape(r rune) {
	e.buf = append(e.buf, '\\', 'u',
		hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}
