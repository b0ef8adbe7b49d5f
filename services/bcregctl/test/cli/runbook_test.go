package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/cli"
)

// runbookPath is the runbook, from this package's directory.
const runbookPath = "../../../../docs/operations.md"

// runbookExample is one concrete bcregctl command the runbook shows.
type runbookExample struct {
	line int
	text string
	args []string
	// reference: a code span in prose of command words alone (`bcregctl
	// initial-load`, `bcregctl requeue corp`). It is run as written; when
	// the command needs arguments (exit 2), it is a reference to the
	// command, and its --help must work (examples elsewhere show the rest).
	reference bool
}

// inlineUse is a `bcregctl ...` code span in prose.
var inlineUse = regexp.MustCompile("`(bcregctl [^`]+)`")

// runbookExamples extracts the runbook's concrete bcregctl commands: the
// lines of its code blocks, and the code spans in its prose that are
// commands rather than synopses (no [optional] parts, no a|b choices, no
// CAPITAL placeholders, no "..."); a span of command words alone is a
// reference. Each text is taken once, at its first line. A shell comment,
// redirection or pipe ends a command.
func runbookExamples(doc string) []runbookExample {
	var out []runbookExample
	seen := map[string]bool{}
	add := func(line int, text string, inProse bool) {
		args := shellWords(text)
		if len(args) < 2 || args[0] != "bcregctl" {
			return
		}
		key := strings.Join(args, " ")
		if seen[key] {
			return
		}
		seen[key] = true
		ref := inProse && len(args) <= 3
		for _, a := range args[1:] {
			ref = ref && regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(a)
		}
		out = append(out, runbookExample{line: line, text: key, args: args[1:], reference: ref})
	}
	inCode := false
	for i, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inCode = !inCode
			continue
		}
		if inCode {
			if strings.HasPrefix(trimmed, "bcregctl ") {
				add(i+1, trimmed, false)
			}
			continue
		}
		for _, m := range inlineUse.FindAllStringSubmatch(line, -1) {
			if synopsis(m[1]) {
				continue
			}
			add(i+1, m[1], true)
		}
	}
	return out
}

// synopsis reports whether a code span describes a command's syntax
// rather than being one to run.
func synopsis(s string) bool {
	if strings.ContainsAny(s, "[|…") || strings.Contains(s, "...") {
		return true
	}
	for _, w := range strings.Fields(s) {
		if regexp.MustCompile(`^[A-Z][A-Z_]+$`).MatchString(w) {
			return true
		}
	}
	return false
}

// shellWords splits a command line as a shell would (quotes, no
// expansion), ending at an unquoted #, >, | or &&.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case !inWord && (r == '#' || r == '>' || r == '|' || strings.HasPrefix(s[i:], "&&")):
			return words
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func TestRunbookExtraction(t *testing.T) {
	doc := "Run `bcregctl status` or `bcregctl status [--json]`, `bcregctl requeue corp CORP_NUM...`,\n" +
		"`bcregctl dlq list|show` and `bcregctl dlq purge 42 --yes`.\n" +
		"```sh\n" +
		"bcregctl() {\n" +
		"  oc debug -- /usr/local/bin/bcregctl \"$@\"\n" +
		"}\n" +
		"bcregctl dlq list --reason \"not stored\" --json     # filters\n" +
		"bcregctl audit --json > audit.json\n" +
		"bcregctl status\n" +
		"```\n" +
		"   ```sh\n" +
		"   bcregctl adopt --from 'postgres://u:...@<host>:5432/db' --dry-run\n" +
		"   ```\n"
	var got []string
	for _, ex := range runbookExamples(doc) {
		got = append(got, strconv.Itoa(ex.line)+": "+strings.Join(ex.args, "|")+map[bool]string{true: " (reference)"}[ex.reference])
	}
	want := []string{
		"1: status (reference)",
		"2: dlq|purge|42|--yes",
		"7: dlq|list|--reason|not stored|--json",
		"8: audit|--json",
		"12: adopt|--from|postgres://u:...@<host>:5432/db|--dry-run",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("examples (-want +got):\n%s", diff)
	}
}

// documentedExit are exit statuses the runbook documents as an answer,
// not a failure: the audit exits 3 when it has findings.
var documentedExit = map[string]int{"audit": 3}

// TestRunbookExamplesRun runs every concrete bcregctl command of the
// runbook (docs/operations.md) as written, each against a fresh event
// database beside the development registry and an embedded NATS server,
// and wants exit status 0: an example that does not work fails the build.
// The runbook's example values are made real first: a dead letter SEQ (42)
// is a dead letter stored for the example, the original's URL (--from) a
// small original database, the audit's ignore list a file; OrgBook's
// database is one of vonx-sim's OrgBook shape that knows the registration
// credential type and holds nothing (every corporation is a finding).
func TestRunbookExamplesRun(t *testing.T) {
	raw, err := os.ReadFile(runbookPath)
	if err != nil {
		t.Fatal(err)
	}
	examples := runbookExamples(string(raw))
	if len(examples) < 10 {
		t.Fatalf("only %d examples found in the runbook: the extraction is broken", len(examples))
	}
	w := newOpsWorld(t)
	t.Setenv("BCREG_CONSOLE_ADDR", "127.0.0.1:0")
	t.Setenv("BCREG_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("BCREG_START_TIMEOUT", "5s")
	orgbook := testenv.NewDatabase(t)
	if _, err := testenv.Pool(t, orgbook).Exec(w.ctx, agentsim.OrgBookSchema+
		`;INSERT INTO credential_type (id, description, schema_name, schema_version) VALUES (1, 'registration.registries.ca', 'registration.registries.ca', '1.0.42')`); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BCREG_ORGBOOK_DB_URL", orgbook)
	newest := w.newestEvent()
	ran := map[string]bool{}
	var dlSeq uint64
	for _, ex := range examples {
		t.Run(strconv.Itoa(ex.line)+" "+ex.text, func(t *testing.T) {
			// A fresh, migrated event database: each example stands alone.
			edb := testenv.NewDatabase(t)
			if _, err := eventdb.Migrate(w.ctx, testenv.Pool(t, edb)); err != nil {
				t.Fatal(err)
			}
			t.Setenv("BCREG_EVENT_DB_URL", edb)
			args := append([]string(nil), ex.args...)
			for i, a := range args {
				switch {
				case a == "42" && args[0] == "dlq":
					dlSeq++ // a new original message, so a new dead letter
					w.deadLetter(messages.StagePoster, "0191294", "h42", []byte(`{"v":1}`), dlSeq)
					entries, err := bus.ListDLQ(w.ctx, w.js, bus.DLQFilter{}, 0)
					if err != nil || len(entries) == 0 {
						t.Fatalf("store a dead letter for the example: %v", err)
					}
					args[i] = strconv.FormatUint(entries[len(entries)-1].Seq, 10)
				case i > 0 && args[i-1] == "--from":
					args[i] = smallOriginal(t, newest).URL
				case i > 0 && args[i-1] == "--ignore":
					args[i] = filepath.Join(t.TempDir(), filepath.Base(a))
					if err := os.WriteFile(args[i], []byte("0772006\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			code, stdout, stderr := runExample(t, args)
			if code == 2 && ex.reference {
				args = append(args, "--help")
				code, stdout, stderr = runExample(t, args)
			}
			if code != 0 && code != documentedExit[args[0]] {
				t.Errorf("docs/operations.md line %d: `%s` (run as %q) exits %d:\n%s%s", ex.line, ex.text, args, code, stdout, stderr)
			}
			if args[len(args)-1] != "--help" {
				ran[args[0]] = true
			}
		})
	}
	for _, c := range []string{"migrate", "status", "dlq", "requeue", "adopt", "initial-load", "prune", "console", "audit"} {
		if !ran[c] {
			t.Errorf("no runbook example of `bcregctl %s` ran", c)
		}
	}
}

// runExample runs bcregctl; a command that runs until interrupted (the
// console, status --watch) is interrupted once it has answered.
func runExample(t *testing.T, args []string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(testenv.Context(t))
	defer cancel()
	untilInterrupted := args[0] == "console" || strings.Contains(strings.Join(args, " "), "--watch")
	out := &answerWriter{}
	if untilInterrupted {
		out.answered = cancel
	}
	var errOut bytes.Buffer
	code = cli.Run(ctx, args, out, &errOut)
	return code, out.String(), errOut.String()
}

// answerWriter collects stdout and, when answered is set, calls it at the
// first write.
type answerWriter struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	answered func()
}

func (a *answerWriter) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.answered != nil {
		a.answered()
	}
	return a.buf.Write(p)
}

func (a *answerWriter) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.String()
}
