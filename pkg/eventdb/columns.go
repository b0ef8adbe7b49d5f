package eventdb

import "unicode/utf8"

// ProcessMsg fits a message into a process_msg column (VARCHAR(255)) as the
// original did: a longer one keeps its first 250 characters and "...".
func ProcessMsg(s string) string {
	if utf8.RuneCountInString(s) <= 255 {
		return s
	}
	r := []rune(s)
	return string(r[:250]) + "..."
}

// ResetSet is the SET list that makes a failed credential_log row (N or
// D) outstanding again: its outcome, attempts and claim cleared. An
// operator's requeue starts afresh: its lost bundles (rearmed) count from 0
// again, or a row given up after MaxRearms losses would be D on its next
// one. Two paths share it: `bcregctl requeue failed` (operator.ResetFailed)
// and the poster handling a requeued dead letter's bundle
// (delivery.ResetForRetry).
//
// resets counts these resets: a row that loses its status without it
// moving was reset by hand (the manage script's SQL), which migration 7's
// trigger notices (docs/design/manage-script.md).
const ResetSet = `process_success = NULL, process_msg = NULL, process_date = NULL,
    attempts = 0, rearmed = 0, claimed_by = NULL, claimed_until = NULL, resets = resets + 1`
