package organization

import (
	"context"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

func TestDomainOf(t *testing.T) {
	for in, want := range map[string]string{"Ada@Fabrikam.COM": "fabrikam.com", "a@b@c.example": "c.example", "no-at": "", "trailing@": ""} {
		if got := DomainOf(in); got != want {
			t.Errorf("DomainOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// Of two organizations listing one domain, every reader picks the older; the domains of all
// but those being deleted are what requireOrganization admits.
func TestForDomainAndAllDomains(t *testing.T) {
	s := runtime.NewScheme()
	if err := b2bv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	org := func(name string, age time.Duration, domains ...string) *b2bv1alpha1.PartnerOrganization {
		return &b2bv1alpha1.PartnerOrganization{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))},
			Spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: domains}}
	}
	going := org("going", 3*time.Hour, "gone.example")
	going.DeletionTimestamp, going.Finalizers = &metav1.Time{Time: now}, []string{"x"}
	c := fake.NewClientBuilder().WithScheme(s).
		WithObjects(org("young", time.Minute, "Fabrikam.com"), org("old", time.Hour, "fabrikam.com", "fabrikam.co.uk", "FABRIKAM.co.uk"), going).
		WithIndex(&b2bv1alpha1.PartnerOrganization{}, DomainIndex, IndexOrganization).Build()
	ctx := context.Background()
	got, err := ForDomain(ctx, c, "FABRIKAM.COM")
	if err != nil || got == nil || got.Name != "old" {
		t.Fatalf("ForDomain = %v, %v; want old", got, err)
	}
	// An organization managing its configuration holds the domain, however new.
	managing := org("managing", 0, "fabrikam.co.uk")
	managing.Status.Configuration = b2bv1alpha1.ConfigurationCreated
	if err := c.Create(ctx, managing); err != nil {
		t.Fatal(err)
	}
	if got, err := ForDomain(ctx, c, "fabrikam.co.uk"); err != nil || got == nil || got.Name != "managing" {
		t.Fatalf("ForDomain(a managed domain) = %v, %v; want managing", got, err)
	}
	if got, err := ForDomain(ctx, c, "contoso.com"); err != nil || got != nil {
		t.Fatalf("ForDomain(undeclared) = %v, %v", got, err)
	}
	all, err := AllDomains(ctx, c)
	if err != nil || !reflect.DeepEqual(all, []string{"fabrikam.co.uk", "fabrikam.com"}) {
		t.Fatalf("AllDomains = %v, %v", all, err)
	}
}
