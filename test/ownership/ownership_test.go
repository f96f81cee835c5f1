package ownership

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// A cluster rebuilt from Git: the same manifests on a fresh API server and etcd find their
// guests by the ownership record in the directory. Nothing is invited, mailed or deleted; the
// user IDs and redemptions are the ones from before; deleting the objects afterwards still
// deletes the guests.
func TestRebuildFromGit(t *testing.T) {
	n := envInt("OWNERSHIP_OBJECTS", 200)
	h := newHarness(t)
	group := h.emu.AddGroup(emulator.Group{DisplayName: "partner-portal-users"})
	sp := h.emu.AddServicePrincipal(emulator.ServicePrincipal{AppID: "0d5cf8a8-3b2c-4e19-9a4c-6f0a1b2c3d4e", DisplayName: "Partner Portal",
		AppRoles: []emulator.AppRole{{ID: "7b0c2a4e-1f3d-4c5b-8a9e-0d1c2b3a4f5e", Value: "Partner.Read"}}})
	ms := partners("rebuild", n, func(i int) ([]string, []b2bv1alpha1.ApplicationAccess) {
		if i%2 == 0 {
			return []string{group.DisplayName}, []b2bv1alpha1.ApplicationAccess{{App: sp.AppID, Role: "Partner.Read"}}
		}
		return []string{group.DisplayName}, nil
	})

	first := h.startCluster(t, "first")
	h.run(t, first, "gitops-prod", "--deletion-threshold", "-1")
	first.apply(t, h.ctx, ms)
	before := first.waitAll(t, h.ctx, "Ready", n, 3*time.Minute, ready)
	accepted := map[string]bool{}
	for i := range before {
		if i%3 == 0 {
			if err := h.emu.AcceptInvitation(before[i].Status.UserID); err != nil {
				t.Fatal(err)
			}
			accepted[before[i].Name] = true
		}
	}
	before = first.waitAll(t, h.ctx, "Ready with the acceptances seen", n, 2*time.Minute, func(p *b2bv1alpha1.PartnerInvitation) bool {
		return ready(p) && (p.Status.State == b2bv1alpha1.StateAccepted) == accepted[p.Name]
	})
	h.waitRecords(t, "gitops-prod", n)
	userOf := map[string]string{}
	for _, p := range before {
		userOf[p.Name] = p.Status.UserID
	}
	members := len(h.emu.GroupMembers(group.ID))

	// The cluster is lost: operator, API server and etcd.
	first.op.Stop()
	if err := first.cp.Env.Stop(); err != nil {
		t.Fatal(err)
	}
	h.emu.ResetRequests()
	mails := h.mails()

	second := h.startCluster(t, "second")
	second.apply(t, h.ctx, ms)
	h.run(t, second, "gitops-prod", "--deletion-threshold", "-1")
	after := second.waitAll(t, h.ctx, "Ready after the rebuild", n, 3*time.Minute, func(p *b2bv1alpha1.PartnerInvitation) bool {
		return ready(p) && p.Status.Access != nil
	})
	for _, p := range after {
		if p.Status.UserID != userOf[p.Name] {
			t.Errorf("%s: status.userID %q after the rebuild, %q before", p.Name, p.Status.UserID, userOf[p.Name])
		}
		if got := p.Status.State == b2bv1alpha1.StateAccepted; got != accepted[p.Name] {
			t.Errorf("%s: state %s after the rebuild; accepted before: %v", p.Name, p.Status.State, accepted[p.Name])
		}
		if reason, _ := invitedReason(&p); reason != b2bv1alpha1.ReasonReclaimed {
			t.Errorf("%s: Invited reason %q, want %s", p.Name, reason, b2bv1alpha1.ReasonReclaimed)
		}
	}
	if got := h.emu.Count("POST", "/invitations"); got != 0 {
		t.Errorf("%d POST /invitations after the rebuild, want 0", got)
	}
	if got := h.emu.Count("DELETE", "/users"); got != 0 {
		t.Errorf("%d DELETE /users requests after the rebuild, want 0", got)
	}
	if got := h.mails(); got != mails {
		t.Errorf("%d invitation mails after the rebuild, %d before", got, mails)
	}
	if got := len(h.emu.GroupMembers(group.ID)); got != members {
		t.Errorf("%d group members after the rebuild, %d before", got, members)
	}
	t.Logf("rebuild: %d objects, 0 invitations, 0 deletions, %d Graph requests to take them back", n, len(h.emu.Requests()))

	// Offboarding still works: the guests are the rebuilt cluster's to delete.
	deleteAll(t, h.ctx, second)
	second.waitGone(t, h.ctx, 3*time.Minute)
	if left := h.recordsOf("gitops-prod"); left != 0 {
		t.Errorf("%d guests left in the directory after deleting their objects", left)
	}
}

func invitedReason(p *b2bv1alpha1.PartnerInvitation) (string, string) {
	for _, c := range p.Status.Conditions {
		if c.Type == b2bv1alpha1.ConditionInvited {
			return c.Reason, c.Message
		}
	}
	return "", ""
}

// Two clusters, one tenant: the second cluster's objects for the first cluster's partners
// report Conflict naming the owner, write nothing, and deleting them deletes nothing.
func TestTwoClustersOneTenant(t *testing.T) {
	n := envInt("OWNERSHIP_TWO_CLUSTER_OBJECTS", 50)
	h := newHarness(t)
	ms := partners("shared", n, nil)
	staging, production := h.startCluster(t, "staging"), h.startCluster(t, "production")
	h.run(t, production, "production")
	production.apply(t, h.ctx, ms)
	production.waitAll(t, h.ctx, "Ready", n, 2*time.Minute, ready)
	h.waitRecords(t, "production", n)

	h.emu.ResetRequests()
	h.run(t, staging, "staging")
	staging.apply(t, h.ctx, ms)
	items := staging.waitAll(t, h.ctx, "Conflict naming the owner", n, 2*time.Minute, func(p *b2bv1alpha1.PartnerInvitation) bool {
		reason, msg := readyReason(p)
		return reason == b2bv1alpha1.ReasonConflict && strings.Contains(msg, `"production"`)
	})
	_, msg := readyReason(&items[0])
	t.Logf("staging reports: %s", msg)
	for _, w := range [][2]string{{"POST", "/invitations"}, {"PATCH", "/users"}, {"DELETE", "/users"}, {"POST", "/groups"}, {"POST", "/servicePrincipals"}} {
		if got := h.emu.Count(w[0], w[1]); got != 0 {
			t.Errorf("%d %s %s requests once staging started, want 0", got, w[0], w[1])
		}
	}
	deleteAll(t, h.ctx, staging)
	staging.waitGone(t, h.ctx, time.Minute)
	if got := h.emu.Count("DELETE", "/users"); got != 0 {
		t.Errorf("deleting staging's objects sent %d DELETE /users requests, want 0", got)
	}
	if got := h.recordsOf("production"); got != n {
		t.Errorf("%d of production's %d guests left", got, n)
	}
	if got := h.emu.Count("POST", "/invitations"); got != 0 {
		t.Errorf("%d invitations from staging, want 0", got)
	}
}

// Deleting the CRD deletes every PartnerInvitation at once. The brake deletes at most the
// threshold and holds the rest, finalizers in place, with a reason and the alert's metric;
// approving releases them, cancelling keeps the guests.
func TestDeletionBrake(t *testing.T) {
	n := envInt("OWNERSHIP_BRAKE_OBJECTS", 300)
	for _, decision := range []string{partnerinvitation.AnnotationBrakeApprove, partnerinvitation.AnnotationBrakeCancel} {
		t.Run(decision[len("b2b.partnerops.io/"):], func(t *testing.T) {
			h := newHarness(t)
			c := h.startCluster(t, "brake")
			c.env.AuthorizeScrapes(t, c.cp.Config)
			h.run(t, c, "brake-test")
			c.apply(t, h.ctx, partners("brake", n, nil))
			c.waitAll(t, h.ctx, "Ready", n, 3*time.Minute, ready)
			h.waitRecords(t, "brake-test", n)
			// The default threshold: 50, or a quarter of the managed guests if fewer.
			limit := min(partnerinvitation.DefaultDeletionThreshold, max(10, (n*partnerinvitation.DefaultDeletionThresholdPercent+99)/100))

			deleteCRD(t, h.ctx, c)
			held := c.waitAll(t, h.ctx, "held by the brake", n-limit, 2*time.Minute, func(p *b2bv1alpha1.PartnerInvitation) bool {
				reason, _ := readyReason(p)
				return !p.DeletionTimestamp.IsZero() && reason == b2bv1alpha1.ReasonDeletionHeld
			})
			_, msg := readyReason(&held[0])
			t.Logf("held: %s", msg)
			if got := h.emu.Count("DELETE", "/users/"); got != limit {
				t.Errorf("%d guests deleted before a decision, want the threshold, %d", got, limit)
			}
			gauge, counter := `partner_operator_invitations_not_ready{reason="DeletionHeld"}`, `partner_operator_guest_deletions_total{verdict="held"}`
			if err := wait.PollUntilContextTimeout(h.ctx, time.Second, time.Minute, true, func(context.Context) (bool, error) {
				return c.op.Scrape(gauge) == float64(n-limit), nil
			}); err != nil {
				t.Errorf("%s = %v, want %d", gauge, c.op.Scrape(gauge), n-limit)
			}
			// The PartnerOperatorDeletionsHeld alert fires on this counter's increase.
			if got := c.op.Scrape(counter); got < float64(n-limit) {
				t.Errorf("%s = %v, want at least one per held object (%d)", counter, got, n-limit)
			}
			if got := c.op.Scrape(`partner_operator_guest_deletions_total{verdict="admitted"}`); got != float64(limit) {
				t.Errorf("%v deletions admitted, want %d", got, limit)
			}

			decide(t, h.ctx, c, decision)
			waitCRDGone(t, h.ctx, c)
			deleted, kept := h.emu.Count("DELETE", "/users/"), h.recordsOf("brake-test")
			t.Logf("%s: %d guests deleted in all, %d kept", decision, deleted, kept)
			if decision == partnerinvitation.AnnotationBrakeApprove && (deleted != n || kept != 0) {
				t.Errorf("after approval: %d deleted, %d kept; want %d and 0", deleted, kept, n)
			}
			if decision == partnerinvitation.AnnotationBrakeCancel && (deleted != limit || kept != n-limit) {
				t.Errorf("after cancelling: %d deleted, %d kept; want %d and %d", deleted, kept, limit, n-limit)
			}
		})
	}
}

func deleteCRD(t *testing.T, ctx context.Context, c *cluster) {
	t.Helper()
	if err := c.cp.Client.Delete(ctx, crd()); err != nil {
		t.Fatalf("delete the CRD: %v", err)
	}
}

func waitCRDGone(t *testing.T, ctx context.Context, c *cluster) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) {
		err := c.cp.Client.Get(ctx, client.ObjectKey{Name: "partnerinvitations.b2b.partnerops.io"}, crd())
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("the CRD is still there: %d objects left", len(c.list(t, ctx)))
	}
}

// decide writes the admin's decision on the brake's Lease, as `kubectl partner brake` does.
func decide(t *testing.T, ctx context.Context, c *cluster, annotation string) {
	t.Helper()
	lease := &coordinationv1.Lease{}
	if err := c.cp.Client.Get(ctx, client.ObjectKey{Namespace: testbed.OperatorNamespace, Name: partnerinvitation.BrakeLeaseName}, lease); err != nil {
		t.Fatalf("the brake's Lease: %v", err)
	}
	patch := client.MergeFrom(lease.DeepCopy())
	lease.Annotations[annotation] = time.Now().UTC().Format(time.RFC3339)
	if err := c.cp.Client.Patch(ctx, lease, patch); err != nil {
		t.Fatal(err)
	}
}

func crd() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	u.SetName("partnerinvitations.b2b.partnerops.io")
	return u
}
