package partnerinvitation

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// Every Reason constant of the API is a label value of its own; an unknown one is "Other".
func TestReadyReasonsAreTheAPIs(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../../api/v1alpha1/conditions.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok {
				continue
			}
			n++
			if v := strings.Trim(lit.Value, `"`); !readyReasons[v] {
				t.Errorf("b2bv1alpha1.%s (%q) is missing from readyReasons: it would be exported as %q", name.Name, v, reasonOther)
			}
		}
		return true
	})
	if n < 30 || len(readyReasons) != n {
		t.Errorf("%d Reason constants in conditions.go, %d in readyReasons", n, len(readyReasons))
	}
}

func TestInventoryCollector(t *testing.T) {
	scheme := testScheme(t)
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) *metav1.Time { v := metav1.NewTime(now.Add(-ago)); return &v }
	obj := func(name string, ready *metav1.Condition, st b2bv1alpha1.PartnerInvitationStatus, created time.Duration) client.Object {
		p := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: *at(created)}}
		p.Status = st
		if ready != nil {
			p.Status.Conditions = []metav1.Condition{*ready}
		}
		return p
	}
	ready := func(status metav1.ConditionStatus, reason string, since time.Duration) *metav1.Condition {
		return &metav1.Condition{Type: b2bv1alpha1.ConditionReady, Status: status, Reason: reason, LastTransitionTime: *at(since)}
	}
	paused := obj("paused", ready(metav1.ConditionFalse, b2bv1alpha1.ReasonGraphError, time.Hour), b2bv1alpha1.PartnerInvitationStatus{}, time.Hour)
	paused.SetAnnotations(map[string]string{b2bv1alpha1.AnnotationPaused: "true"})
	objs := []client.Object{
		obj("new", nil, b2bv1alpha1.PartnerInvitationStatus{}, 30*time.Second),
		obj("accepted", ready(metav1.ConditionTrue, b2bv1alpha1.ReasonInSync, time.Hour),
			b2bv1alpha1.PartnerInvitationStatus{UserID: "u1", State: b2bv1alpha1.StateAccepted}, 48*time.Hour),
		obj("pending-old", ready(metav1.ConditionTrue, b2bv1alpha1.ReasonInSync, time.Hour),
			b2bv1alpha1.PartnerInvitationStatus{UserID: "u2", State: b2bv1alpha1.StatePendingAcceptance, InvitedAt: at(10 * 24 * time.Hour)}, 10*24*time.Hour),
		obj("pending-resent", ready(metav1.ConditionTrue, b2bv1alpha1.ReasonInSync, time.Hour),
			b2bv1alpha1.PartnerInvitationStatus{UserID: "u3", State: b2bv1alpha1.StatePendingAcceptance, InvitedAt: at(20 * 24 * time.Hour), LastSentAt: at(time.Hour)}, 20*24*time.Hour),
		obj("group-missing", ready(metav1.ConditionFalse, b2bv1alpha1.ReasonGroupNotFound, 20*time.Minute),
			b2bv1alpha1.PartnerInvitationStatus{UserID: "u4"}, time.Hour),
		obj("group-missing-2", ready(metav1.ConditionFalse, b2bv1alpha1.ReasonGroupNotFound, 5*time.Minute),
			b2bv1alpha1.PartnerInvitationStatus{UserID: "u5", State: b2bv1alpha1.StateAccepted}, time.Hour),
		obj("odd", ready(metav1.ConditionFalse, "SomethingElse", time.Minute), b2bv1alpha1.PartnerInvitationStatus{}, time.Hour),
		paused,
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()

	elected := make(chan struct{})
	col := NewInventoryCollector(WalkList(c), elected, clocktesting.NewFakePassiveClock(now), logr.Discard())
	reg := prometheus.NewPedanticRegistry()
	if err := RegisterInventory(reg, col); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("a replica that does not lead exported %d series (%v), want none", n, err)
	}
	close(elected)
	want := `
# HELP partner_operator_invitations PartnerInvitations by redemption state: NotInvited, PendingAcceptance, Accepted, or NotReported (Graph reports none).
# TYPE partner_operator_invitations gauge
partner_operator_invitations{state="Accepted"} 2
partner_operator_invitations{state="NotInvited"} 3
partner_operator_invitations{state="NotReported"} 1
partner_operator_invitations{state="PendingAcceptance"} 2
# HELP partner_operator_invitations_not_ready PartnerInvitations whose Ready condition is not True, by its reason (NotReconciled without one); paused objects are left out.
# TYPE partner_operator_invitations_not_ready gauge
partner_operator_invitations_not_ready{reason="GroupNotFound"} 2
partner_operator_invitations_not_ready{reason="NotReconciled"} 1
partner_operator_invitations_not_ready{reason="Other"} 1
# HELP partner_operator_invitations_not_ready_longest_seconds How long the PartnerInvitation not Ready the longest has been so (since Ready's last transition, or its creation), by reason.
# TYPE partner_operator_invitations_not_ready_longest_seconds gauge
partner_operator_invitations_not_ready_longest_seconds{reason="GroupNotFound"} 1200
partner_operator_invitations_not_ready_longest_seconds{reason="NotReconciled"} 30
partner_operator_invitations_not_ready_longest_seconds{reason="Other"} 60
# HELP partner_operator_invitations_pending_oldest_seconds Age of the oldest invitation still PendingAcceptance, since it was last sent; 0 when none is pending.
# TYPE partner_operator_invitations_pending_oldest_seconds gauge
partner_operator_invitations_pending_oldest_seconds 864000
# HELP partner_operator_lifecycle_invitations PartnerInvitations a lifecycle rule (Inactivity, Recertification) ends: in the warning window (Warning) or with the expiry action taken (Acted).
# TYPE partner_operator_lifecycle_invitations gauge
partner_operator_lifecycle_invitations{rule="Inactivity",state="Acted"} 0
partner_operator_lifecycle_invitations{rule="Inactivity",state="Warning"} 0
partner_operator_lifecycle_invitations{rule="Recertification",state="Acted"} 0
partner_operator_lifecycle_invitations{rule="Recertification",state="Warning"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	// A second manager in the process replaces the first one's collector.
	second := NewInventoryCollector(WalkList(fake.NewClientBuilder().WithScheme(scheme).Build()), elected, clocktesting.NewFakePassiveClock(now), logr.Discard())
	if err := RegisterInventory(reg, second); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP partner_operator_invitations_pending_oldest_seconds Age of the oldest invitation still PendingAcceptance, since it was last sent; 0 when none is pending.
# TYPE partner_operator_invitations_pending_oldest_seconds gauge
partner_operator_invitations_pending_oldest_seconds 0
`), "partner_operator_invitations_pending_oldest_seconds", "partner_operator_invitations_not_ready"); err != nil {
		t.Error(err)
	}
}

// The lifecycle gauge counts, for Inactivity and Recertification, the objects in the warning
// window (Expired is ExpiringSoon, the rule sets expiresAt, no action yet) and those whose
// expiry action the rule's limit led to; the other rules are not exported.
func TestInventoryCollectorLifecycle(t *testing.T) {
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	expired := func(reason string) []metav1.Condition {
		return []metav1.Condition{{Type: b2bv1alpha1.ConditionExpired, Status: metav1.ConditionFalse, Reason: reason, LastTransitionTime: metav1.NewTime(now)}}
	}
	acted := func(rule b2bv1alpha1.ExpiryRule) *b2bv1alpha1.ExpiryStatus {
		return &b2bv1alpha1.ExpiryStatus{Action: b2bv1alpha1.ExpiryRevokeAccess, At: metav1.NewTime(now.Add(-time.Hour)), Source: "PartnerAccessPolicy/ns/p", Rule: rule}
	}
	var objs []client.Object
	add := func(name string, st b2bv1alpha1.PartnerInvitationStatus) {
		objs = append(objs, &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Status: st})
	}
	add("inactive-soon", b2bv1alpha1.PartnerInvitationStatus{UserID: "u1", ExpiryRule: b2bv1alpha1.RuleInactivity, Conditions: expired(b2bv1alpha1.ReasonExpiringSoon)})
	add("inactive-soon-2", b2bv1alpha1.PartnerInvitationStatus{UserID: "u2", ExpiryRule: b2bv1alpha1.RuleInactivity, Conditions: expired(b2bv1alpha1.ReasonExpiringSoon)})
	add("inactive-scheduled", b2bv1alpha1.PartnerInvitationStatus{UserID: "u3", ExpiryRule: b2bv1alpha1.RuleInactivity, Conditions: expired(b2bv1alpha1.ReasonExpiryScheduled)})
	add("inactive-revoked", b2bv1alpha1.PartnerInvitationStatus{UserID: "u4", ExpiryRule: b2bv1alpha1.RuleInactivity,
		Conditions: []metav1.Condition{{Type: b2bv1alpha1.ConditionExpired, Status: metav1.ConditionTrue, Reason: b2bv1alpha1.ReasonAccessRevoked, LastTransitionTime: metav1.NewTime(now)}},
		Expiry:     acted(b2bv1alpha1.RuleInactivity)})
	add("recert-due", b2bv1alpha1.PartnerInvitationStatus{UserID: "u5", ExpiryRule: b2bv1alpha1.RuleRecertification,
		RecertificationDueAt: &metav1.Time{Time: now.Add(24 * time.Hour)}, Conditions: expired(b2bv1alpha1.ReasonExpiringSoon)})
	add("recert-pending", b2bv1alpha1.PartnerInvitationStatus{UserID: "u6", ExpiryRule: b2bv1alpha1.RuleRecertification,
		Conditions: expired(b2bv1alpha1.ReasonExpiryActionPending), Expiry: acted(b2bv1alpha1.RuleRecertification)})
	add("recert-revoked", b2bv1alpha1.PartnerInvitationStatus{UserID: "u7", ExpiryRule: b2bv1alpha1.RuleRecertification,
		Conditions: expired(b2bv1alpha1.ReasonAccessRevoked), Expiry: acted(b2bv1alpha1.RuleRecertification)})
	// Recorded before the limit moved: the action is the rule's it records, not status.expiryRule's.
	add("recert-then-inactive", b2bv1alpha1.PartnerInvitationStatus{UserID: "u8", ExpiryRule: b2bv1alpha1.RuleInactivity,
		Conditions: expired(b2bv1alpha1.ReasonExpiringSoon), Expiry: acted(b2bv1alpha1.RuleRecertification)})
	// Other rules, and an expiry recorded before status.expiry had a rule, are not counted.
	add("expires-at-soon", b2bv1alpha1.PartnerInvitationStatus{UserID: "u9", ExpiryRule: b2bv1alpha1.RuleExpiresAt, Conditions: expired(b2bv1alpha1.ReasonExpiringSoon)})
	add("max-duration-revoked", b2bv1alpha1.PartnerInvitationStatus{UserID: "u10", ExpiryRule: b2bv1alpha1.RuleMaxAccessDuration,
		Conditions: expired(b2bv1alpha1.ReasonAccessRevoked), Expiry: acted(b2bv1alpha1.RuleMaxAccessDuration)})
	add("old-expiry", b2bv1alpha1.PartnerInvitationStatus{UserID: "u11", Expiry: acted("")})
	add("no-rule-soon", b2bv1alpha1.PartnerInvitationStatus{UserID: "u12", Conditions: expired(b2bv1alpha1.ReasonExpiringSoon)})
	add("plain", b2bv1alpha1.PartnerInvitationStatus{UserID: "u13", State: b2bv1alpha1.StateAccepted})

	elected := make(chan struct{})
	close(elected)
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).Build()
	reg := prometheus.NewPedanticRegistry()
	if err := RegisterInventory(reg, NewInventoryCollector(WalkList(c), elected, clocktesting.NewFakePassiveClock(now), logr.Discard())); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP partner_operator_lifecycle_invitations PartnerInvitations a lifecycle rule (Inactivity, Recertification) ends: in the warning window (Warning) or with the expiry action taken (Acted).
# TYPE partner_operator_lifecycle_invitations gauge
partner_operator_lifecycle_invitations{rule="Inactivity",state="Acted"} 1
partner_operator_lifecycle_invitations{rule="Inactivity",state="Warning"} 2
partner_operator_lifecycle_invitations{rule="Recertification",state="Acted"} 3
partner_operator_lifecycle_invitations{rule="Recertification",state="Warning"} 1
`), "partner_operator_lifecycle_invitations"); err != nil {
		t.Error(err)
	}
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := b2bv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}
