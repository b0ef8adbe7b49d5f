package agent

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/config"
)

// Protocols the poster speaks.
const (
	// ProtocolVonX is the VON-X issuer agent (bcreg-x, 2018–2019):
	// POST {base}/issue-credential, health at /health on the agent's host.
	ProtocolVonX = "vonx"
	// ProtocolController is the aca-py issuer controller (bcreg-aca):
	// POST {base}/issue-credential (or -v20), health at {base}/readiness.
	ProtocolController = "controller"
)

// Defaults of the original pipeline when neither BCREG_AGENT_URL nor the
// original variable is set.
const (
	DefaultVonXURL       = "http://localhost:5000/bcreg"
	DefaultControllerURL = "http://localhost:5002"
)

// Config says where the agents are and how to talk to them. Embed it in a
// service's config (variables BCREG_AGENT_*).
type Config struct {
	// URLs is one or more agent base URLs, comma separated. They may carry
	// user:password@ for HTTP basic authentication; they print redacted.
	URLs config.URL `envconfig:"AGENT_URL"`
	// HealthURLs is the health endpoint of each agent, comma separated, in
	// the order of URLs; empty derives them from the protocol.
	HealthURLs config.URL `envconfig:"AGENT_HEALTH_URL"`
	Protocol   string     `envconfig:"AGENT_PROTOCOL" default:"vonx"`
	// IssueVersion selects the controller route: V10 → /issue-credential,
	// V20 → /issue-credential-v20 (the original's ISSUE_CRED_VERSION).
	IssueVersion string `envconfig:"AGENT_ISSUE_VERSION" default:"V10"`
	// HealthInterval is how often an agent that is down is checked again.
	HealthInterval time.Duration `envconfig:"AGENT_HEALTH_INTERVAL" default:"5s"`
}

// ApplyFallbacks fills an unset BCREG_AGENT_URL from the original's
// variables: VONX_API_URL (else http://localhost:5000/bcreg) for VON-X,
// CONTROLLER_URL (else http://localhost:5002) for the controller; and the
// controller route from ISSUE_CRED_VERSION.
func (c *Config) ApplyFallbacks(lookup func(string) (string, bool)) {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	if strings.TrimSpace(c.URLs.Value()) == "" {
		if c.Protocol == ProtocolController {
			c.URLs = config.URL(get("CONTROLLER_URL", DefaultControllerURL))
		} else {
			c.URLs = config.URL(get("VONX_API_URL", DefaultVonXURL))
		}
	}
	if _, set := lookup("BCREG_AGENT_ISSUE_VERSION"); !set {
		c.IssueVersion = get("ISSUE_CRED_VERSION", c.IssueVersion)
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	switch c.Protocol {
	case ProtocolVonX, ProtocolController:
	default:
		errs = append(errs, fmt.Errorf("BCREG_AGENT_PROTOCOL=%q: want %s or %s", c.Protocol, ProtocolVonX, ProtocolController))
	}
	switch strings.ToUpper(c.IssueVersion) {
	case "V10", "V20":
	default:
		errs = append(errs, fmt.Errorf("BCREG_AGENT_ISSUE_VERSION=%q: want V10 or V20", c.IssueVersion))
	}
	if c.HealthInterval <= 0 || c.HealthInterval > 5*time.Second {
		errs = append(errs, fmt.Errorf("BCREG_AGENT_HEALTH_INTERVAL=%v: want more than 0 and at most 5s (an agent that is down is checked at least every 5 seconds)", c.HealthInterval))
	}
	if _, err := c.Endpoints(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Endpoint is one agent: where to issue and where to ask for its health.
type Endpoint struct {
	BaseURL   string
	IssueURL  string
	HealthURL string
}

// Name is the base URL without credentials, for logs and metric labels.
func (e Endpoint) Name() string { return config.RedactURL(e.BaseURL) }

// Endpoints returns one Endpoint per agent URL.
func (c Config) Endpoints() ([]Endpoint, error) {
	bases := splitList(c.URLs.Value())
	if len(bases) == 0 {
		return nil, errors.New("BCREG_AGENT_URL: no agent URL")
	}
	healths := splitList(c.HealthURLs.Value())
	if len(healths) > 0 && len(healths) != len(bases) {
		return nil, fmt.Errorf("BCREG_AGENT_HEALTH_URL: %d health URLs for %d agent URLs (give one per agent, in the same order, or none)", len(healths), len(bases))
	}
	var errs []error
	out := make([]Endpoint, 0, len(bases))
	for i, b := range bases {
		u, err := config.ParseURL(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("BCREG_AGENT_URL: agent %d: %w", i+1, err))
			continue
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("BCREG_AGENT_URL: agent %d (%s) is not an http(s) URL", i+1, config.RedactURL(b)))
			continue
		}
		base := strings.TrimRight(b, "/")
		ep := Endpoint{BaseURL: base}
		if c.Protocol == ProtocolController {
			ep.IssueURL = base + "/issue-credential"
			if strings.EqualFold(c.IssueVersion, "V20") {
				ep.IssueURL += "-v20"
			}
			ep.HealthURL = base + "/readiness"
		} else {
			ep.IssueURL = base + "/issue-credential"
			// VON-X serves /health at the root of its host, not under the
			// issuer path (/bcreg/health is a 404).
			ep.HealthURL = (&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, Path: "/health"}).String()
		}
		if len(healths) > 0 {
			h, err := config.ParseURL(healths[i])
			if err != nil {
				errs = append(errs, fmt.Errorf("BCREG_AGENT_HEALTH_URL: health URL %d: %w", i+1, err))
				continue
			}
			if (h.Scheme != "http" && h.Scheme != "https") || h.Host == "" {
				errs = append(errs, fmt.Errorf("BCREG_AGENT_HEALTH_URL: health URL %d (%s) is not an http(s) URL", i+1, config.RedactURL(healths[i])))
				continue
			}
			ep.HealthURL = healths[i]
		}
		out = append(out, ep)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// DefaultRequestSize is the original's credentials per request: 20 for
// VON-X (2018), 5 for the controller.
func DefaultRequestSize(protocol string) int {
	if protocol == ProtocolController {
		return 5
	}
	return 20
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
