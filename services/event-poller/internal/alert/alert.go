// Package alert sends the pipeline's alerts to a webhook in the original
// pipeline's Rocket.Chat format (package webhook) and decides
// when: a Monitor evaluates thresholds on the pipeline's figures every
// BCREG_ALERT_INTERVAL (growth of failures, dead letters and credentials
// released to the outbox sweep; queue size, the agent answering nothing, a
// stale watermark, credentials abandoned behind an unanswered bundle,
// unreachable dependencies) and services report failures as they happen. One owner runs it, the active
// event-poller, and only while it holds the poller lock, so two replicas
// send one alert, not two.
//
// Sending never blocks the pipeline: messages are queued and posted by a
// goroutine with a timeout, and dropped when the queue is full. An outage
// sends a few messages, not thousands: a condition is re-sent at most once
// per BCREG_ALERT_REPEAT while it lasts (an escalation from WARNING to
// ERROR and its resolution are sent at once), and at most
// BCREG_WEBHOOK_MAX_PER_HOUR messages go out in any hour. The last sending
// of each alert is stored in the event database, so a new active poller
// (failover, upgrade) does not repeat its predecessor's.
package alert

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/webhook"
)

// Level is a message's severity (webhook.Level: 0 errors, 1 warnings, 2
// information, as the original's WEBHOOK_LEVEL).
type Level = webhook.Level

// Levels.
const (
	Error   = webhook.Error
	Warning = webhook.Warning
	Info    = webhook.Info
)

// ParseLevel reads a statusCode.
func ParseLevel(s string) Level { return webhook.ParseLevel(s) }

// Payload is the webhook's JSON body (package webhook, shared with
// `bcregctl audit`'s summary).
type Payload = webhook.Payload

// Config holds the alert settings (variables BCREG_*; the original's
// WEBHOOK_URL, WEBHOOK_LEVEL, PROJECT_NAME and FRIENDLY_PROJECT_NAME are
// read when the BCREG_ ones are unset).
type Config struct {
	// WebhookURL is the webhook; empty turns alerting off. It is a secret: a
	// Rocket.Chat hook URL carries its token.
	WebhookURL config.Secret `envconfig:"WEBHOOK_URL"`
	// WebhookLevel filters messages: 0 errors only, 1 also warnings, 2 also
	// information.
	WebhookLevel        int    `envconfig:"WEBHOOK_LEVEL" default:"0"`
	ProjectName         string `envconfig:"PROJECT_NAME"`
	FriendlyProjectName string `envconfig:"FRIENDLY_PROJECT_NAME"`
	// WebhookTimeout bounds one webhook request (the original's 30 s at most).
	WebhookTimeout time.Duration `envconfig:"WEBHOOK_TIMEOUT" default:"10s"`
	// WebhookMaxPerHour caps the messages sent in any hour.
	WebhookMaxPerHour int `envconfig:"WEBHOOK_MAX_PER_HOUR" default:"12"`
	// AlertInterval is how often the thresholds are evaluated.
	AlertInterval time.Duration `envconfig:"ALERT_INTERVAL" default:"1m"`
	// AlertRepeat is how often a lasting condition is sent again.
	AlertRepeat time.Duration `envconfig:"ALERT_REPEAT" default:"1h"`
	// AlertQueueWarn and AlertQueueError are the queue sizes (corporations waiting
	// in BCREG_EVENTS, or credentials outstanding) of a warning and an
	// error, as the original's 10,000 and 100,000.
	AlertQueueWarn  int64 `envconfig:"ALERT_QUEUE_WARN" default:"10000"`
	AlertQueueError int64 `envconfig:"ALERT_QUEUE_ERROR" default:"100000"`
	// AlertWatermarkStale is how far the registry's newest event may be ahead
	// of the watermark before the poller counts as stuck.
	AlertWatermarkStale time.Duration `envconfig:"ALERT_WATERMARK_STALE" default:"1h"`
	// AlertAgentStall is how long credentials may wait with no answer from the
	// agent before it counts as down.
	AlertAgentStall time.Duration `envconfig:"ALERT_AGENT_STALL" default:"15m"`
}

// Defaults of the original's variables.
const (
	DefaultProjectName         = webhook.DefaultProjectName
	DefaultFriendlyProjectName = webhook.DefaultFriendlyProjectName
)

// ApplyFallbacks reads the original's variables for what BCREG_ leaves
// unset.
func (c *Config) ApplyFallbacks(lookup func(string) (string, bool)) {
	if c.WebhookURL == "" {
		if v, ok := lookup("WEBHOOK_URL"); ok {
			c.WebhookURL = config.Secret(v)
		}
	}
	if _, set := lookup("BCREG_WEBHOOK_LEVEL"); !set {
		if v, ok := lookup("WEBHOOK_LEVEL"); ok && v != "" {
			if n, err := strconv.Atoi(v); err == nil {
				c.WebhookLevel = n
			} else {
				c.WebhookLevel = -1 // reported by Validate
			}
		}
	}
	if c.ProjectName == "" {
		c.ProjectName = DefaultProjectName
		if v, ok := lookup("PROJECT_NAME"); ok && v != "" {
			c.ProjectName = v
		}
	}
	if c.FriendlyProjectName == "" {
		c.FriendlyProjectName = DefaultFriendlyProjectName
		if v, ok := lookup("FRIENDLY_PROJECT_NAME"); ok && v != "" {
			c.FriendlyProjectName = v
		}
	}
}

// Validate checks the settings.
func (c Config) Validate() error {
	var errs []error
	if c.WebhookLevel < 0 || c.WebhookLevel > 2 {
		errs = append(errs, fmt.Errorf("BCREG_WEBHOOK_LEVEL (or WEBHOOK_LEVEL)=%d: want 0 (errors), 1 (+ warnings) or 2 (+ information)", c.WebhookLevel))
	}
	if c.WebhookTimeout <= 0 || c.WebhookTimeout > 30*time.Second {
		errs = append(errs, fmt.Errorf("BCREG_WEBHOOK_TIMEOUT=%v: want more than 0 and at most 30s", c.WebhookTimeout))
	}
	if c.WebhookMaxPerHour < 1 {
		errs = append(errs, fmt.Errorf("BCREG_WEBHOOK_MAX_PER_HOUR=%d: want at least 1", c.WebhookMaxPerHour))
	}
	if c.AlertInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("BCREG_ALERT_INTERVAL=%v: want at least 10ms", c.AlertInterval))
	}
	if c.AlertRepeat < c.AlertInterval {
		errs = append(errs, fmt.Errorf("BCREG_ALERT_REPEAT=%v: want at least BCREG_ALERT_INTERVAL=%v", c.AlertRepeat, c.AlertInterval))
	}
	if c.AlertQueueWarn < 1 || c.AlertQueueError < c.AlertQueueWarn {
		errs = append(errs, fmt.Errorf("BCREG_ALERT_QUEUE_WARN=%d, BCREG_ALERT_QUEUE_ERROR=%d: want 1 <= warn <= error", c.AlertQueueWarn, c.AlertQueueError))
	}
	if c.AlertWatermarkStale <= 0 || c.AlertAgentStall <= 0 {
		errs = append(errs, errors.New("BCREG_ALERT_WATERMARK_STALE and BCREG_ALERT_AGENT_STALL: must be positive"))
	}
	return errors.Join(errs...)
}

// Enabled reports whether a webhook is configured.
func (c Config) Enabled() bool { return c.WebhookURL != "" }
