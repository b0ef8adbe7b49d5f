package outbox

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// rawAttributes checks that text, a stored credential's attributes, can go
// into a bundle as it is: encoding/json writes raw text compacted, with <, >,
// & (and U+2028, U+2029) escaped, which is what parsing it into a map of raw
// values and encoding that map gives too, as long as the top-level keys are
// already what encoding/json writes for them (no escapes, valid UTF-8) and
// in the order it sorts them (strictly increasing bytes: no duplicates).
// Stored texts are canonical (keys sorted, printable ASCII), so this holds
// for every credential the builder writes; ok is false otherwise, and the
// caller parses the text as before. eff is the effective_date attribute as
// json.Unmarshal into a string reads it ("" when it is not a string).
//
// text must be valid JSON: it is not checked here (encoding/json's
// compaction rejects invalid raw text when the bundle is encoded).
func rawAttributes(text []byte) (eff string, ok bool) {
	i := skipSpace(text, 0)
	if i >= len(text) || text[i] != '{' {
		return "", false
	}
	var prev []byte
	effVal := []byte(nil)
	depth := 0
	expectKey := false // at depth 1, the next string is a key
	wantEff := false   // the value after the current key is effective_date's
	for ; i < len(text); i++ {
		switch c := text[i]; c {
		case '{', '[':
			depth++
			expectKey = c == '{' && depth == 1
			wantEff = false
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		case '"':
			end, esc := stringEnd(text, i)
			if end < 0 {
				return "", false
			}
			s := text[i : end+1]
			switch {
			case expectKey:
				key := s[1 : len(s)-1]
				if esc || !utf8.Valid(key) || (prev != nil && bytes.Compare(prev, key) >= 0) {
					return "", false
				}
				prev, expectKey = key, false
				wantEff = string(key) == "effective_date"
				if wantEff && effVal != nil {
					return "", false
				}
			case wantEff && depth == 1:
				effVal, wantEff = s, false
			}
			i = end
		case ':', ' ', '\t', '\n', '\r':
		default:
			wantEff = false // a number, true, false or null: not a string
		}
	}
	if effVal == nil {
		return "", true
	}
	if bytes.IndexByte(effVal, '\\') < 0 && isASCII(effVal) {
		return string(effVal[1 : len(effVal)-1]), true
	}
	// Escapes or non-ASCII text: let encoding/json read it (it replaces
	// invalid UTF-8, as before).
	_ = json.Unmarshal(effVal, &eff)
	return eff, true
}

// stringEnd returns the index of the quote that closes the string opening
// at text[start], and whether it holds a backslash; -1 when it does not end.
func stringEnd(text []byte, start int) (end int, esc bool) {
	for j := start + 1; j < len(text); j++ {
		switch text[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j, esc
		}
	}
	return -1, esc
}

func skipSpace(text []byte, i int) int {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r') {
		i++
	}
	return i
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
