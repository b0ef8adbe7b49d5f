package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/bcgov/bcreg-events/pkg/webhook"
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

// maxPosted is how many findings the webhook message names, as the
// operators' audit posts its first 15 lines.
const maxPosted = 15

// Summary is the webhook message (the alerts' format, package webhook):
// the counts and the first findings; statusCode ERROR with findings, INFO
// without.
func (r *Report) Summary(project, friendly string) webhook.Payload {
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
	level := webhook.Info
	if total > 0 {
		level = webhook.Error
	}
	return webhook.Message(project, friendly, level, b.String())
}
