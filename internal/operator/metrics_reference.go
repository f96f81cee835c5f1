package operator

import (
	"fmt"
	"strings"
)

// Metric documents one metric the operator exports.
type Metric struct {
	Name string
	// Type is counter, gauge or histogram.
	Type   string
	Labels []string
	// Meaning is the documented text (docs/operations/monitoring.md): what it counts, and the label values.
	Meaning string
}

// MetricsReference is every partner_operator_* metric the operator registers, and the
// controller-runtime metrics the dashboard, the alerts and the docs rely on. Tests keep it
// equal to what registerMetrics registers (names, types, labels), to the table in docs/operations/monitoring.md, and
// to what a running operator serves; the alerts and the dashboard may name no other metric.
var MetricsReference = []Metric{
	{"partner_operator_invitations", "gauge", []string{"state"},
		"PartnerInvitations by `state`: `NotInvited` (no guest yet), `PendingAcceptance`, `Accepted`, `NotReported` (Graph reports no state). Computed from the cache at each scrape, by the leader only"},
	{"partner_operator_invitations_not_ready", "gauge", []string{"reason"},
		"PartnerInvitations whose `Ready` is not `True`, by its `reason` (a condition reason of the API, `NotReconciled` before the first reconcile, `Other` for anything else); paused objects are left out. Leader only"},
	{"partner_operator_invitations_not_ready_longest_seconds", "gauge", []string{"reason"},
		"How long the object not Ready the longest has been so (since `Ready`'s last transition), by `reason`. Leader only"},
	{"partner_operator_invitations_pending_oldest_seconds", "gauge", nil,
		"Age of the oldest invitation still `PendingAcceptance`, since it was last sent (first invitation, resend or reset); 0 when none is pending. Leader only"},
	{"partner_operator_lifecycle_invitations", "gauge", []string{"rule", "state"},
		"PartnerInvitations a policy's lifecycle rule ends, by `rule` (`Inactivity`: no sign-in for `inactivity.after`; `Recertification`: not recertified within `recertification.every`) and `state`: `Warning` (`Expired` is `ExpiringSoon` and the rule sets `status.expiresAt`, no action yet), `Acted` (`status.expiry` records the action, for that rule). All four series always, 0 when none. Leader only"},
	{"partner_operator_time_to_redemption_seconds", "histogram", nil,
		"Time from the invitation (or the reset) to the partner's redemption (`status.redeemedAt`), observed once per redemption when the operator sees it; adopted guests are not observed"},
	{"partner_operator_graph_requests_total", "counter", []string{"tenant", "operation", "code"},
		"Microsoft Graph calls by `tenant` (`default` for the flags' tenant, `ClusterGraphTenant/NAME`, `GraphTenant/NAMESPACE/NAME`), `operation` (`invite`, `find_users_batch`, `get_user`, `user_changes`, ...) and final HTTP status `code`, after the SDK's inline retries: `429` throttled, `401` authentication failed (also when no token could be had from Entra ID), `403` a permission is missing, `0` no answer"},
	{"partner_operator_graph_request_duration_seconds", "histogram", []string{"tenant", "operation"},
		"Latency of Graph calls, inline retries included, pacer wait excluded, by `tenant` and `operation`"},
	{"partner_operator_graph_pacer_wait_seconds", "histogram", []string{"tenant", "class"},
		"Time a Graph call waited for its tenant's request budget (`--tenant-size`, a tenant object's `spec.size`) and for a pause after a 429 before it was sent, by `class`: `invitation`, `write`, `read`"},
	{"partner_operator_redemption_watcher_last_success_timestamp_seconds", "gauge", nil,
		"Unix time of the users-delta watcher's last successful round (its start until the first one). Leader only; absent with `--redemption-watch-interval=0`"},
	{"partner_operator_invitations_sent_again_total", "counter", []string{"kind"},
		"Invitations sent again on request, by `kind`: `resend`, `reset`"},
	{"partner_operator_expiry_warnings_total", "counter", nil,
		"`ExpiringSoon` warnings raised (`--expiry-warning` before access ends)"},
	{"partner_operator_expirations_total", "counter", []string{"action"},
		"Guests whose access ended, by `action`: `AccessRevoked`, `AccountDisabled`, `GuestDeleted`"},
	{"partner_operator_ownership_records_total", "counter", []string{"outcome"},
		"Ownership records in the directory handled by the background recorder, by `outcome`: `written`, `current` (already right), `refused` (another installation owns the guest), `failed` (queued again at the object's next reconcile). Leader only"},
	{"partner_operator_guest_deletions_total", "counter", []string{"verdict"},
		"Guest deletions the accidental-deletion brake decided on, by `verdict`: `admitted` (within `--deletion-threshold`), `approved` (released by an admin), `held` (counted at each look while held), `cancelled` (the guest was kept)"},

	{"controller_runtime_reconcile_total", "counter", []string{"controller", "result"},
		"Reconciles by `result`: `success`, `error`, `requeue`, `requeue_after`"},
	{"controller_runtime_reconcile_errors_total", "counter", []string{"controller"},
		"Reconciles that returned an error (retried with backoff)"},
	{"controller_runtime_terminal_reconcile_errors_total", "counter", []string{"controller"},
		"Reconciles that returned a terminal error (`Stalled` until the spec changes)"},
	{"controller_runtime_reconcile_panics_total", "counter", []string{"controller"},
		"Reconciles that panicked"},
	{"controller_runtime_reconcile_time_seconds", "histogram", []string{"controller"},
		"Duration of a reconcile"},
	{"controller_runtime_active_workers", "gauge", []string{"controller"},
		"Reconciles in progress"},
	{"controller_runtime_max_concurrent_reconciles", "gauge", []string{"controller"},
		"`--max-concurrent-reconciles`"},
	{"workqueue_depth", "gauge", []string{"controller", "name", "priority"},
		"Objects waiting to be reconciled"},
	{"workqueue_adds_total", "counter", []string{"controller", "name"},
		"Objects queued for a reconcile"},
	{"workqueue_retries_total", "counter", []string{"controller", "name"},
		"Objects queued again after an error or a requeue"},
	{"workqueue_queue_duration_seconds", "histogram", []string{"controller", "name"},
		"Time an object waited in the queue"},
	{"workqueue_work_duration_seconds", "histogram", []string{"controller", "name"},
		"Time a reconcile took, from the queue's view"},
	{"workqueue_unfinished_work_seconds", "gauge", []string{"controller", "name"},
		"Seconds of work in progress not yet done"},
	{"workqueue_longest_running_processor_seconds", "gauge", []string{"controller", "name"},
		"How long the longest reconcile in progress has run"},
	{"leader_election_master_status", "gauge", []string{"name"},
		"1 on the replica that holds the leader Lease (`name=\"partner-operator.b2b.partnerops.io\"`), 0 on a standby"},
	{"rest_client_requests_total", "counter", []string{"code", "method", "host"},
		"Requests to the Kubernetes API server by status `code`"},
}

// MetricsTable renders MetricsReference as the Markdown table of docs/operations/monitoring.md.
func MetricsTable() string {
	var b strings.Builder
	b.WriteString("| metric | type | labels | meaning |\n|---|---|---|---|\n")
	for _, m := range MetricsReference {
		labels := make([]string, len(m.Labels))
		for i, l := range m.Labels {
			labels[i] = "`" + l + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", m.Name, m.Type, strings.Join(labels, ", "), m.Meaning)
	}
	return b.String()
}
