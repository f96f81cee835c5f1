package main

import (
	"cmp"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

func TestStatus(t *testing.T) {
	c := cluster(t)
	day := 24 * time.Hour
	ctx := context.Background()
	pending, accepted := b2bv1alpha1.StatePendingAcceptance, b2bv1alpha1.StateAccepted
	ready := readyCondition(metav1.ConditionTrue, b2bv1alpha1.ReasonInSync, "Guest matches the spec")
	c.namespace(t, "status-a")
	c.namespace(t, "status-b")
	c.invitation(t, "status-a", "accepted", &b2bv1alpha1.PartnerInvitationStatus{State: accepted, Conditions: ready})
	c.invitation(t, "status-a", "pending-old", &b2bv1alpha1.PartnerInvitationStatus{State: pending, Conditions: ready,
		InvitedAt: ago(20 * day), LastSentAt: ago(8 * day)})
	// Sent three weeks ago and again two days ago: the resend counts.
	c.invitation(t, "status-a", "pending-resent", &b2bv1alpha1.PartnerInvitationStatus{State: pending, Conditions: ready,
		InvitedAt: ago(21 * day), LastSentAt: ago(2 * day)})
	c.invitation(t, "status-a", "claimed", &b2bv1alpha1.PartnerInvitationStatus{Conditions: readyCondition(metav1.ConditionFalse,
		b2bv1alpha1.ReasonConflict, `spec.email is already claimed by PartnerInvitation status-b/holder`)})
	c.invitation(t, "status-a", "member", &b2bv1alpha1.PartnerInvitationStatus{Conditions: readyCondition(metav1.ConditionFalse,
		b2bv1alpha1.ReasonConflict, "a member account (8f1c0000-0000-0000-0000-000000000001) already has the address in spec.email; the operator never manages member accounts")})
	c.invitation(t, "status-b", "holder", &b2bv1alpha1.PartnerInvitationStatus{State: accepted, Conditions: ready})
	c.invitation(t, "status-b", "denied", &b2bv1alpha1.PartnerInvitationStatus{Conditions: readyCondition(metav1.ConditionFalse,
		b2bv1alpha1.ReasonAdoptionDenied, "Guest 1234 exists and no PartnerAccessPolicy lets\nnamespace status-b adopt it")})
	c.invitation(t, "status-b", "fresh", nil)

	report := func(t *testing.T, args ...string) statusReport {
		t.Helper()
		stdout, stderr, err := c.kubectl(t, append([]string{"status", "-o", "json"}, args...)...)
		if err != nil {
			t.Fatalf("status: %v\n%s", err, stderr)
		}
		var r statusReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("-o json is not a report: %v\n%s", err, stdout)
		}
		return r
	}

	t.Run("all namespaces", func(t *testing.T) {
		r := report(t, "-A")
		// Other tests share the cluster: count theirs in.
		var others b2bv1alpha1.PartnerInvitationList
		if err := c.client.List(ctx, &others); err != nil {
			t.Fatal(err)
		}
		wantStates := map[string]int{"Accepted": 2, "PendingAcceptance": 2, "None": 4}
		wantTotal, wantReady := 8, 4
		for _, p := range others.Items {
			if !strings.HasPrefix(p.Namespace, "status-") {
				wantTotal++
				wantStates[cmp.Or(string(p.Status.State), "None")]++
				if meta.IsStatusConditionTrue(p.Status.Conditions, b2bv1alpha1.ConditionReady) {
					wantReady++
				}
			}
		}
		r.Pending, r.NotReady, r.Conflicts = inStatusNamespaces(r.Pending), inStatusNamespaces(r.NotReady), inStatusNamespaces(r.Conflicts)
		if r.Namespace != "" || r.Total != wantTotal || r.Ready != wantReady || r.PendingFor != "7d" {
			t.Errorf("namespace %q, total %d, ready %d, pendingFor %q; want all, %d, %d, 7d", r.Namespace, r.Total, r.Ready, r.PendingFor, wantTotal, wantReady)
		}
		if diff := gocmp.Diff(wantStates, r.States); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
		if len(r.Pending) != 1 || r.Pending[0].Name != "pending-old" || !strings.HasPrefix(r.Pending[0].Pending, "8d") {
			t.Errorf("pending %+v, want pending-old only, for 8d", r.Pending)
		}
		var notReady []string
		for _, e := range r.NotReady {
			notReady = append(notReady, e.Namespace+"/"+e.Name+" "+e.Reason)
		}
		want := []string{"status-a/claimed Conflict", "status-a/member Conflict", "status-b/denied AdoptionDenied", "status-b/fresh NotReconciled"}
		if diff := gocmp.Diff(want, notReady); diff != "" {
			t.Errorf("not ready (-want +got):\n%s", diff)
		}
		var owners []string
		for _, e := range r.Conflicts {
			owners = append(owners, e.Name+": "+e.Owner)
		}
		want = []string{"claimed: PartnerInvitation status-b/holder", "member: member account 8f1c0000-0000-0000-0000-000000000001"}
		if diff := gocmp.Diff(want, owners); diff != "" {
			t.Errorf("conflicts (-want +got):\n%s", diff)
		}
	})

	t.Run("one namespace, a shorter threshold", func(t *testing.T) {
		r := report(t, "-n", "status-a", "--pending-for", "1d12h")
		if r.Namespace != "status-a" || r.Total != 5 || len(r.Pending) != 2 || r.PendingFor != "1d12h0m0s" {
			t.Errorf("report %+v, want 5 objects of status-a, both pending listed", r)
		}
	})

	t.Run("tables", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "status", "-n", "status-b")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"3 PartnerInvitations in namespace status-b, 1 Ready\n",
			"STATE     COUNT\nAccepted  1\nNone      2\n",
			"PENDING LONGER THAN 7d: 0\n",
			"NOT READY: 2\n",
			// A message stays on its row.
			"denied  denied@status-b.example  AdoptionDenied  Guest 1234 exists and no PartnerAccessPolicy lets namespace status-b adopt it\n",
			"CONFLICTS: 0\n",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, stdout)
			}
		}
		stdout, _, err = c.kubectl(t, "status", "-A")
		if err != nil || !strings.Contains(stdout, "status-a   member   member@status-a.example   member account 8f1c0000-0000-0000-0000-000000000001\n") {
			t.Errorf("conflicts table: %v\n%s", err, stdout)
		}
	})

	t.Run("yaml", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "status", "-n", "status-b", "-o", "yaml")
		if err != nil || !strings.Contains(stdout, "total: 3\n") {
			t.Errorf("-o yaml: %v\n%s", err, stdout)
		}
	})

	for _, bad := range [][]string{{"--pending-for", "a week"}, {"-o", "wide"}, {"extra-arg"}} {
		t.Run("refused "+strings.Join(bad, " "), func(t *testing.T) {
			if _, _, err := c.kubectl(t, append([]string{"status"}, bad...)...); err == nil {
				t.Error("status accepted it")
			}
		})
	}
}

// inStatusNamespaces keeps the entries of TestStatus's own namespaces.
func inStatusNamespaces[E pendingEntry | problemEntry](entries []E) []E {
	var out []E
	for _, e := range entries {
		if strings.HasPrefix(namespaceOf(e), "status-") {
			out = append(out, e)
		}
	}
	return out
}

func namespaceOf(e any) string {
	switch e := e.(type) {
	case pendingEntry:
		return e.Namespace
	case problemEntry:
		return e.Namespace
	}
	return ""
}

func TestDayDuration(t *testing.T) {
	tests := map[string]string{"7d": "7d", "36h": "1d12h0m0s", "1d12h": "1d12h0m0s", "90m": "1h30m0s", "0d": "0s", "2d30m": "2d30m0s"}
	for in, want := range tests {
		var d dayDuration
		if err := d.Set(in); err != nil || d.String() != want {
			t.Errorf("Set(%q): %q, %v; want %q", in, d.String(), err, want)
		}
	}
	for _, bad := range []string{"", "d", "7 days", "xd", "-1d", "1d-48h"} {
		var d dayDuration
		if err := d.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted it: %s", bad, d)
		}
	}
}

func TestStatusPerTenant(t *testing.T) {
	inv := func(ns, name string, ref *b2bv1alpha1.TenantReference, state b2bv1alpha1.InvitationState) b2bv1alpha1.PartnerInvitation {
		return b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:   b2bv1alpha1.PartnerInvitationSpec{Email: name + "@x.example", TenantRef: ref},
			Status: b2bv1alpha1.PartnerInvitationStatus{State: state, Conditions: readyCondition(metav1.ConditionTrue, b2bv1alpha1.ReasonInSync, "")}}
	}
	prod := &b2bv1alpha1.TenantReference{Kind: b2bv1alpha1.KindClusterGraphTenant, Name: "prod"}
	own := &b2bv1alpha1.TenantReference{Kind: b2bv1alpha1.KindGraphTenant, Name: "own"}
	r := summarise([]b2bv1alpha1.PartnerInvitation{
		inv("a", "one", nil, b2bv1alpha1.StateAccepted),
		inv("a", "two", prod, b2bv1alpha1.StatePendingAcceptance),
		inv("b", "three", prod, b2bv1alpha1.StateAccepted),
		inv("b", "four", own, b2bv1alpha1.StatePendingAcceptance),
	}, "", 0, time.Now())
	want := []tenantEntry{
		{Tenant: "ClusterGraphTenant prod", tally: tally{Total: 2, Ready: 2, States: map[string]int{"Accepted": 1, "PendingAcceptance": 1}}},
		{Tenant: "GraphTenant b/own", tally: tally{Total: 1, Ready: 1, States: map[string]int{"PendingAcceptance": 1}}},
		{Tenant: "default", tally: tally{Total: 1, Ready: 1, States: map[string]int{"Accepted": 1}}},
	}
	if !reflect.DeepEqual(r.Tenants, want) {
		t.Fatalf("tenants:\n got %+v\nwant %+v", r.Tenants, want)
	}
	var out strings.Builder
	if err := r.printTables(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ClusterGraphTenant prod  2      2      1        1") {
		t.Fatalf("the tenant table is missing:\n%s", out.String())
	}
}

// Guests are grouped by the organization their address belongs to, as the operator reported it;
// the rest under "none". The JSON keeps each group's counts beside its name.
func TestStatusPerOrganization(t *testing.T) {
	inv := func(name, org string, state b2bv1alpha1.InvitationState, ready metav1.ConditionStatus) b2bv1alpha1.PartnerInvitation {
		return b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name},
			Spec:   b2bv1alpha1.PartnerInvitationSpec{Email: name + "@x.example"},
			Status: b2bv1alpha1.PartnerInvitationStatus{State: state, Organization: org, Conditions: readyCondition(ready, b2bv1alpha1.ReasonInSync, "")}}
	}
	r := summarise([]b2bv1alpha1.PartnerInvitation{
		inv("one", "fabrikam", b2bv1alpha1.StateAccepted, metav1.ConditionTrue),
		inv("two", "fabrikam", b2bv1alpha1.StatePendingAcceptance, metav1.ConditionFalse),
		inv("three", "", b2bv1alpha1.StateAccepted, metav1.ConditionTrue),
	}, "a", 0, time.Now())
	want := []organizationEntry{
		{Organization: "fabrikam", tally: tally{Total: 2, Ready: 1, States: map[string]int{"Accepted": 1, "PendingAcceptance": 1}}},
		{Organization: "none", tally: tally{Total: 1, Ready: 1, States: map[string]int{"Accepted": 1}}},
	}
	if !reflect.DeepEqual(r.Organizations, want) {
		t.Fatalf("organizations:\n got %+v\nwant %+v", r.Organizations, want)
	}
	var out strings.Builder
	if err := r.printTables(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ORGANIZATION  TOTAL  READY  PENDING  ACCEPTED\nfabrikam      2      1      1        1") {
		t.Fatalf("the organization table is missing:\n%s", out.String())
	}
	raw, err := json.Marshal(r.Organizations[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"organization":"fabrikam","total":2,"ready":1`) {
		t.Fatalf("json: %s", raw)
	}
}
