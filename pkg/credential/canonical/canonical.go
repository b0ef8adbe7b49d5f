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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
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
	e := encoder{}
	if err := e.value(v, "$", 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// Hash returns the lowercase hex SHA-256 of text, as stored in
// CREDENTIAL_HASH.
func Hash(text []byte) string {
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:])
}

type encoder struct {
	buf []byte
}

// value appends v; path locates v in error messages.
func (e *encoder) value(v any, path string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("canonical: %s: nested more than %d levels (circular?): %w", path, maxDepth, ErrUnsupported)
	}
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, v)
	case string:
		return e.string(v, path)
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
		return e.number(v, path)
	case Object:
		return object(e, v, path, depth)
	case map[string]any:
		return object(e, v, path, depth)
	case map[string]string:
		return object(e, v, path, depth)
	case []any:
		return list(e, v, path, depth)
	case []string:
		return list(e, v, path, depth)
	default:
		return fmt.Errorf("canonical: %s: %w: %T", path, ErrUnsupported, v)
	}
	return nil
}

// number appends an integer json.Number as Python prints the int it parses
// to: "-0" as 0, any size.
func (e *encoder) number(n json.Number, path string) error {
	s := string(n)
	if !isJSONInteger(s) {
		return fmt.Errorf("canonical: %s: %w: number %q is not a JSON integer", path, ErrUnsupported, s)
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
func object[V any](e *encoder, m map[string]V, path string, depth int) error {
	e.buf = append(e.buf, '{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			e.buf = append(e.buf, ", "...)
		}
		p := path + "." + k
		if err := e.string(k, p); err != nil {
			return err
		}
		e.buf = append(e.buf, ": "...)
		if err := e.value(m[k], p, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// list appends l as [a, b].
func list[V any](e *encoder, l []V, path string, depth int) error {
	e.buf = append(e.buf, '[')
	for i, v := range l {
		if i > 0 {
			e.buf = append(e.buf, ", "...)
		}
		if err := e.value(v, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
			return err
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
func (e *encoder) string(s, path string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("canonical: %s: %w: string is not valid UTF-8", path, ErrUnsupported)
	}
	e.buf = append(e.buf, '"')
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
	e.buf = append(e.buf, '"')
	return nil
}

// unicodeEscape appends \uXXXX for a code unit r <= 0xFFFF.
func (e *encoder) unicodeEscape(r rune) {
	e.buf = append(e.buf, '\\', 'u',
		hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}
