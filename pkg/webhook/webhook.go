// Package webhook is the alert webhook's message: the original pipeline's
// Rocket.Chat format ({friendlyProjectName, projectName, statusCode,
// message}, statusCode ERROR, WARNING or INFO) and one POST of it. The
// event-poller's alerts and `bcregctl audit`'s summary both speak it, so an
// operator's receiving hook sees one format.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Level is a message's severity, ordered as the original's WEBHOOK_LEVEL:
// 0 errors, 1 warnings, 2 information.
type Level int

// Levels.
const (
	Error   Level = 0
	Warning Level = 1
	Info    Level = 2
)

// String is the statusCode of the payload.
func (l Level) String() string {
	switch l {
	case Error:
		return "ERROR"
	case Warning:
		return "WARNING"
	default:
		return "INFO"
	}
}

// ParseLevel reads a statusCode.
func ParseLevel(s string) Level {
	switch s {
	case "ERROR":
		return Error
	case "WARNING":
		return Warning
	default:
		return Info
	}
}

// Defaults of the original's PROJECT_NAME and FRIENDLY_PROJECT_NAME.
const (
	DefaultProjectName         = "von-bc-registries-agent"
	DefaultFriendlyProjectName = "BC Registries"
)

// Payload is the webhook's JSON body, as the original posted it.
type Payload struct {
	FriendlyProjectName string `json:"friendlyProjectName"`
	ProjectName         string `json:"projectName"`
	StatusCode          string `json:"statusCode"`
	Message             string `json:"message"`
}

// Message makes a payload of one message.
func Message(project, friendly string, level Level, message string) Payload {
	return Payload{FriendlyProjectName: friendly, ProjectName: project, StatusCode: level.String(), Message: message}
}

// maxAnswer is how much of the webhook's answer is read (and discarded) so
// the connection can be reused.
const maxAnswer = 64 << 10

// Post sends p to url with client (whose timeout, or ctx's, bounds the
// request). The URL carries the hook's token, so it never appears in the
// error: it reads BCREG_WEBHOOK_URL instead.
func Post(ctx context.Context, client *http.Client, url string, p Payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("webhook: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: BCREG_WEBHOOK_URL is not a URL: %s", redact(err.Error(), url))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: unreachable: %s", redact(err.Error(), url))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: answered %d", resp.StatusCode)
	}
	return nil
}

func redact(s, url string) string {
	if url == "" {
		return s
	}
	return strings.ReplaceAll(s, url, "BCREG_WEBHOOK_URL")
}
