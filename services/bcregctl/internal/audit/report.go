package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the summary table, then the findings with expected and
// found values.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "audit (%s profile): %d corporation(s) compared, %d pending (skipped), %d ignored, %d OrgBook topic(s) read, %.1fs\n\n",
		r.Profile, r.Audited, r.Pending, r.Ignored, r.Topics, r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tFINDINGS")
	total := 0
	for _, c := range r.Counts {
		fmt.Fprintf(tw, "%s\t%d\n", c.Check, c.Count)
		total += c.Count
	}
	fmt.Fprintf(tw, "total\t%d\n", total)
	tw.Flush()
	if len(r.Findings) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CORP_NUM\tSOURCE_ID\tCHECK\tEXPECTED\tFOUND")
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dash(f.CorpNum), dash(f.SourceID), f.Check, dash(f.Expected), dash(f.Found))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteJSON writes the report as JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("audit: JSON: %w", err)
	}
	return nil
}

// PersonSteps lists what only a person can do, by OrgBook's tooling: a
// topic holding wrong values is deleted in OrgBook before its corporation
// is posted again (the audit's re-post repairs it only where OrgBook
// supersedes the wrong credential); a topic the registry does not have is
// deleted. Stuck credentials go through `bcregctl requeue failed` or the
// dead-letter queue.
func (r *Report) PersonSteps() []string {
	var out []string
	seen := map[string]bool{}
	addOnce := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, f := range r.Findings {
		switch f.Check {
		case CheckEntityType, CheckName, CheckEntityStatus, CheckRegistrationDate, CheckJurisdiction, CheckBusinessNumber:
			addOnce(fmt.Sprintf("OrgBook (if the re-post does not correct it): ./manage -p bc -e prod deleteTopic %s, then bcregctl audit --corp %s --requeue --yes", f.SourceID, f.CorpNum))
		case CheckNotInRegistry:
			addOnce("OrgBook: ./manage -p bc -e prod deleteTopic " + f.SourceID + " (the registry has no such corporation in scope)")
		case CheckStuckCredentials:
			addOnce(fmt.Sprintf("event processor: bcregctl requeue failed (or bcregctl dlq) for %s: %s", f.CorpNum, f.Found))
		}
	}
	return out
}

// ReadIgnore reads an ignore list: one corporation number or registration
// id per line, or a JSON array of them (the operators' ignore_list.json);
// '#' starts a comment.
func ReadIgnore(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: ignore list: %w", err)
	}
	out := map[string]bool{}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var list []string
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, fmt.Errorf("audit: ignore list %s: %w", path, err)
		}
		for _, s := range list {
			out[strings.TrimSpace(s)] = true
		}
		return out, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			out[f] = true
		}
	}
	return out, nil
}

// Payload is the alert webhook's body, the alerts' format
// (docs/operations.md, "Alerts").
type Payload struct {
	FriendlyProjectName string `json:"friendlyProjectName"`
	ProjectName         string `json:"projectName"`
	StatusCode          string `json:"statusCode"`
	Message             string `json:"message"`
}

// maxPosted is how many findings the webhook message names, as the
// operators' audit posts its first 15 lines.
const maxPosted = 15

// Summary is the webhook message: the counts and the first findings.
// statusCode is ERROR with findings, INFO without.
func (r *Report) Summary(project, friendly string) Payload {
	var b strings.Builder
	total := len(r.Findings)
	fmt.Fprintf(&b, "OrgBook audit: %d finding(s) in %d corporation(s) compared (%d pending, %d ignored)", total, r.Audited, r.Pending, r.Ignored)
	for _, c := range r.Counts {
		if c.Count > 0 {
			fmt.Fprintf(&b, "\n%s: %d", c.Check, c.Count)
		}
	}
	for i, f := range r.Findings {
		if i == maxPosted {
			fmt.Fprintf(&b, "\n… and %d more", total-maxPosted)
			break
		}
		fmt.Fprintf(&b, "\n%s %s %s: expected %q, found %q", dash(f.CorpNum), dash(f.SourceID), f.Check, f.Expected, f.Found)
	}
	code := "INFO"
	if total > 0 {
		code = "ERROR"
	}
	return Payload{FriendlyProjectName: friendly, ProjectName: project, StatusCode: code, Message: b.String()}
}

// Post sends p to the webhook url.
func Post(ctx context.Context, url string, p Payload, timeout time.Duration) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("audit: webhook: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("audit: webhook: BCREG_WEBHOOK_URL is not a URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("audit: webhook unreachable: %s", strings.ReplaceAll(err.Error(), url, "BCREG_WEBHOOK_URL"))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("audit: webhook answered %d", resp.StatusCode)
	}
	return nil
}
