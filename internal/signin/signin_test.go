package signin

import (
	"testing"
	"time"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

func TestActivityConfirmsOnlyReadsThatStartedAfter(t *testing.T) {
	now := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	r := NewRegistry()
	a := r.Add("default")
	<-r.Events()
	if a.ReadSince(time.Time{}) || !a.Enforced() {
		t.Fatalf("before the first read: read %v, enforced %v; want not read, enforced (it waits)", a.ReadSince(time.Time{}), a.Enforced())
	}
	if !a.Set(b2bv1alpha1.ReasonSignInsRead, "", now) {
		t.Error("the first read is a change")
	}
	<-r.Events()
	if !a.ReadSince(now) || a.ReadSince(now.Add(time.Second)) {
		t.Error("a read that started at now confirms deadlines up to now, not later ones")
	}
	if a.Set(b2bv1alpha1.ReasonSignInsRead, "", now.Add(time.Hour)) {
		t.Error("another read is no change of reason or message")
	}
	select {
	case <-r.Events():
		t.Error("an event for a read that changed nothing the policies show")
	default:
	}
	if !a.ReadSince(now.Add(time.Hour)) {
		t.Error("the later read counts")
	}
	a.Set(b2bv1alpha1.ReasonNoPremiumLicense, "no licence", time.Time{})
	if a.Enforced() || a.ReadSince(now) {
		t.Error("without the licence nothing is enforced, and old reads confirm nothing")
	}
	var none *Activity
	if none.Enforced() || none.ReadSince(now) {
		t.Error("a tenant without a watcher enforces nothing")
	}
}

func TestRegistryListsTenantsAndForgetsOnlyItsOwn(t *testing.T) {
	r := NewRegistry()
	b := r.Add("ClusterGraphTenant/b")
	r.Add("default")
	old := r.Add("GraphTenant/ns/a")
	r.Add("GraphTenant/ns/a") // reconnected: a new Activity
	r.Remove("GraphTenant/ns/a", old)
	var names []string
	for _, s := range r.States() {
		names = append(names, s.Tenant)
	}
	if want := []string{"ClusterGraphTenant/b", "GraphTenant/ns/a", "default"}; len(names) != 3 || names[0] != want[0] || names[1] != want[1] || names[2] != want[2] {
		t.Errorf("states %v, want %v (removing a stale Activity keeps the new one)", names, want)
	}
	r.Remove("ClusterGraphTenant/b", b)
	if len(r.States()) != 2 {
		t.Errorf("%d states after removing one, want 2", len(r.States()))
	}
}
