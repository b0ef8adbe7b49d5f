package agent

import (
	"regexp"
	"strconv"
	"strings"
)

// Class is what one reply row means for its credential (docs/design/rules.md
// rule 7; docs/design/agent.md §5).
type Class int

const (
	// Issued means the agent issued the credential; Result is its id.
	Issued Class = iota
	// Rejected means the agent refused this credential for good (OrgBook did
	// not store it, an aca-py problem report, an unknown schema among
	// successes). Mark it N and dead-letter it.
	Rejected
	// Transient means the agent could not issue it now (not synchronised,
	// OrgBook down or slow). Retry later.
	Transient
	// ConfigError means the agent is set up wrongly for this request (unknown
	// connection, unknown credential type). When every row of a request
	// says so the agent is misconfigured; among successes it is a
	// rejection of that row.
	ConfigError
)

func (c Class) String() string {
	switch c {
	case Issued:
		return "issued"
	case Rejected:
		return "rejected"
	case Transient:
		return "transient"
	case ConfigError:
		return "config_error"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Messages VON-X raises before issuing (docs/design/agent.md §3): the
// connection and credential type checks are configuration, the sync checks
// are transient.
var (
	configPrefixes = []string{
		"Unknown connection id:",
		"Cannot issue credential from non-issuer agent",
		"Could not locate credential type:",
	}
	transientPrefixes = []string{
		"Connection is not yet synchronized",
		"Issuer is not yet synchronized",
		"Connection timed out during post_json",
		"Exception during post_json",
		"Could not create credential request",
		"Exception while handling request",
		"Unspecified error posting",
	}
	// Controller rows that carry a requests/urllib3 transport failure or
	// a 5xx of aca-py's admin API rather than a verdict on the credential.
	transientFragments = []string{
		"::Error thread timeout",
		"Max retries exceeded",
		"Connection refused",
		"Connection aborted",
		"Read timed out",
		"Server Error:",
	}
	badResponse = regexp.MustCompile(`^Bad response from post_json: \((\d{3})\)`)
)

// Classify says what a row means. Unknown failure texts are rejections: the
// original marked every failed row N, and re-posting a credential the agent
// refused for an unknown reason would repeat the refusal.
func Classify(r Row) Class {
	if r.Success {
		return Issued
	}
	msg := strings.TrimSpace(r.Result)
	for _, p := range configPrefixes {
		if strings.HasPrefix(msg, p) {
			return ConfigError
		}
	}
	for _, p := range transientPrefixes {
		if strings.HasPrefix(msg, p) {
			return Transient
		}
	}
	if m := badResponse.FindStringSubmatch(msg); m != nil {
		// OrgBook answered the group's store call with an HTTP error:
		// 5xx, 408 and 429 are OrgBook being unavailable; another 4xx
		// refuses the credentials.
		st, _ := strconv.Atoi(m[1])
		if st >= 500 || st == 408 || st == 429 {
			return Transient
		}
		return Rejected
	}
	for _, f := range transientFragments {
		if strings.Contains(msg, f) {
			return Transient
		}
	}
	return Rejected
}
