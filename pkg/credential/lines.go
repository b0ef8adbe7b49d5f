package credential

import (
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// Line is one output line of `bcregctl generate`: a *CredentialLine,
// *NoteLine or *ErrorLine. Each encodes (encoding/json) to one JSON object
// with its keys in the documented order.
type Line interface{ line() }

// CredentialLine is one generated credential.
type CredentialLine struct {
	CorpNum        string `json:"corp_num"`
	Type           string `json:"type"`
	CredentialID   string `json:"credential_id"`
	Schema         string `json:"schema"`
	Version        string `json:"version"`
	CorpState      string `json:"corp_state"`
	Held           bool   `json:"held"`
	Reason         string `json:"reason"`
	CredentialJSON string `json:"credential_json"`
	Hash           string `json:"hash"`
	// NotBefore is when the credential may be posted (UTC, the credential
	// dates' format); omitted when it may be posted at once.
	NotBefore string `json:"not_before,omitempty"`
	// InScope is false for a corporation the pipeline would not process;
	// omitted when it would.
	InScope *bool `json:"in_scope,omitempty"`
}

// NoteLine says why a corporation yields no credentials.
type NoteLine struct {
	CorpNum string `json:"corp_num"`
	Note    string `json:"note"`
	InScope *bool  `json:"in_scope,omitempty"`
}

// ErrorLine says why a corporation cannot be generated (an unknown corp_num
// included).
type ErrorLine struct {
	CorpNum string `json:"corp_num"`
	Error   string `json:"error"`
	InScope *bool  `json:"in_scope,omitempty"`
}

func (*CredentialLine) line() {}
func (*NoteLine) line()       {}
func (*ErrorLine) line()      {}

// Lines generates the output lines of `bcregctl generate` for corpNums, in
// argument order, from a batch the caller loaded (sourcedb.Loader.Load with the
// same numbers): each corporation's credentials in issue order (with their
// reason, "Filing:NOCAD" and the like, for the history profile), or one note
// or error line. For the history profile params is usually FullRange: every
// credential the corporation has ever had. Lines of corporations outside the
// profile's scope carry "in_scope": false; an error line of a corporation
// that could not be read carries no in_scope.
func Lines(p Profile, corpNums []string, batch *source.Batch, params Params) []Line {
	var out []Line
	for _, num := range corpNums {
		snap, err := batch.Get(num)
		if err != nil {
			out = append(out, &ErrorLine{CorpNum: num, Error: err.Error()})
			continue
		}
		var scope *bool
		if !p.InScope(snap) {
			scope = new(bool)
		}
		res, err := p.Generate(snap, params)
		switch {
		case err != nil:
			out = append(out, &ErrorLine{CorpNum: num, Error: err.Error(), InScope: scope})
		case len(res.Credentials) == 0:
			note := res.Note
			if note == "" {
				note = "no credentials generated"
			}
			out = append(out, &NoteLine{CorpNum: num, Note: note, InScope: scope})
		default:
			for _, c := range res.Credentials {
				line := &CredentialLine{
					CorpNum: num, Type: c.Type, CredentialID: c.ID, Schema: c.Schema, Version: c.Version,
					CorpState: res.CorpState, Held: c.Held, Reason: c.Reason,
					CredentialJSON: c.JSON, Hash: c.Hash, InScope: scope,
				}
				if !c.NotBefore.IsZero() {
					line.NotBefore = regclock.FormatUTC(c.NotBefore)
				}
				out = append(out, line)
			}
		}
	}
	return out
}
