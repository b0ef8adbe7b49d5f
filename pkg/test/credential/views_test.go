package credential_test

import (
	"time"

	"github.com/bcgov/bcreg-events/pkg/credential"
)

// synthNow is the generation time of the synthetic scenarios, after every
// event they hold (the same instant as pkg/credential's unit tests use).
var synthNow = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

// regView is the part of a REG credential a rule changes (as in
// pkg/credential's unit tests, which live in another module).
type regView struct {
	Reason, Effective, Name, NameEffective, Status, StatusEffective, Type, Home string
}

func regViews(res *credential.Result) []regView {
	var out []regView
	for _, c := range res.Credentials {
		if c.Type != credential.TypeRegistration {
			continue
		}
		a := c.Attributes
		out = append(out, regView{c.Reason, a["effective_date"].(string), a["entity_name"].(string), a["entity_name_effective"].(string),
			a["entity_status"].(string), a["entity_status_effective"].(string), a["entity_type"].(string), a["home_jurisdiction"].(string)})
	}
	return out
}
