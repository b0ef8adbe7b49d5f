package bus

import (
	"fmt"
	"strings"
)

// Subject prefixes; the full subjects are <prefix>.<system>.<corp> and, for
// dead letters, bcreg.dlq.<stage>.<system>.<corp>.
const (
	EventsPrefix = "bcreg.events"
	CredsPrefix  = "bcreg.creds"
	DLQPrefix    = "bcreg.dlq"
	// DLQDataPrefix is where BCREG_DLQ keeps the original bytes of a dead
	// letter too large to carry them: bcreg.dlqdata.<system>.<corp>.
	DLQDataPrefix = "bcreg.dlqdata"
)

// EventSubject is the subject of a CorpEvent.
func EventSubject(system, corpNum string) string {
	return EventsPrefix + "." + SubjectToken(system) + "." + SubjectToken(corpNum)
}

// CredSubject is the subject of a CredentialBundle.
func CredSubject(system, corpNum string) string {
	return CredsPrefix + "." + SubjectToken(system) + "." + SubjectToken(corpNum)
}

// SubjectToken returns s when it is a valid subject token (no separators,
// wildcards or whitespace) and otherwise an escaped form: "~" followed by
// each byte outside [A-Za-z0-9_-] as two hex digits ("A B" → "~A~20B"). The
// payload always carries the real value; the token only routes.
func SubjectToken(s string) string {
	if s == "" {
		return "_"
	}
	ok := true
	for i := 0; i < len(s); i++ {
		if !safeByte(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.WriteByte('~')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "~%02X", c)
		}
	}
	return b.String()
}

func safeByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// subjectTokens returns the system and corp tokens of a stream subject
// (bcreg.events.<system>.<corp>), or "_" when absent.
func subjectTokens(subject string) (system, corp string) {
	return tokensAfter(subject, 2)
}

// tokensAfter returns the two tokens of subject after its first n (the rest
// joined as the second), or "_" when absent.
func tokensAfter(subject string, n int) (system, corp string) {
	parts := strings.Split(subject, ".")
	system, corp = "_", "_"
	if len(parts) >= n+2 {
		system, corp = parts[n], strings.Join(parts[n+1:], ".")
	}
	return system, corp
}
