// Package operator holds the event database's queries for the operator
// and the alerts: the status figures (Counts, PostedPerMinute,
// RecentErrors, over every work table), a corporation's history
// (event_by_corp_filing and credential_log rows), the operator_action log,
// the requeue of failed credentials (credential_log rows in N or D made
// outstanding again), retention (corp_history_log and event_seen) and the
// alerts' state (alert_state). It owns operator_action and alert_state;
// the other tables it reads, or changes only as an operator's action.
//
// Its callers: pkg/pipeline (the one collector of the figures, for
// `bcregctl status`, the console, the alerts and the metrics), bcregctl
// (requeue, prune, the console's corporation page, the record of every
// action), the event-poller (the alerts' state, the scheduled prune of
// corp_history_log) and pkg/eventdb/adopt (its operator_action row).
package operator
