package partnerorganization

import (
	"context"
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/organization"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// partnersAt is a tenant's partner configurations in memory; loseCreateAnswer makes Graph
// create the configuration and the answer never arrive, as a crash or a reset would.
type partnersAt struct {
	configs          map[string]*graph.PartnerConfiguration
	loseCreateAnswer bool
	// markAtCreate is status.configuration as the API server held it when the create was sent.
	markAtCreate b2bv1alpha1.ConfigurationOrigin
	read         func() b2bv1alpha1.ConfigurationOrigin
}

func (p *partnersAt) FindTenantByDomain(_ context.Context, domain string) (*graph.TenantInformation, error) {
	if domain != "fabrikam.example" {
		return nil, &graph.Error{Kind: graph.KindNotFound, StatusCode: 404}
	}
	return &graph.TenantInformation{TenantID: "9c5d131d-b1c3-4fc4-9e3f-c6557947d551", DisplayName: "Fabrikam", DefaultDomainName: domain}, nil
}

func (p *partnersAt) GetPartner(_ context.Context, id string) (*graph.PartnerConfiguration, error) {
	if c := p.configs[id]; c != nil {
		cp := *c
		return &cp, nil
	}
	return nil, &graph.Error{Kind: graph.KindNotFound, StatusCode: 404}
}

func (p *partnersAt) CreatePartner(_ context.Context, c graph.PartnerConfiguration) error {
	p.markAtCreate = p.read()
	if p.configs[c.TenantID] != nil {
		return &graph.Error{Kind: graph.KindAlreadyExists, StatusCode: 409}
	}
	p.configs[c.TenantID] = &c
	if p.loseCreateAnswer {
		p.loseCreateAnswer = false
		return &graph.Error{Kind: graph.KindTransient, Err: errors.New("connection reset")}
	}
	return nil
}

func (p *partnersAt) UpdatePartner(context.Context, string, graph.PartnerConfiguration) error {
	return nil
}

func (p *partnersAt) DeletePartner(_ context.Context, id string) error {
	delete(p.configs, id)
	return nil
}

type oneTenant struct{ partners graph.CrossTenantAccess }

func (o oneTenant) CrossTenantAccess(context.Context, tenant.Ref) (graph.CrossTenantAccess, string, error) {
	return o.partners, "our-tenant", nil
}

// newFakeClient holds one PartnerOrganization, fabrikam, for fabrikam.example, with the
// indexes the reconciler reads.
func newFakeClient(t *testing.T) client.Client {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, b2bv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	org := &b2bv1alpha1.PartnerOrganization{ObjectMeta: metav1.ObjectMeta{Name: "fabrikam", Generation: 1},
		Spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{"fabrikam.example"}}}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(org).WithStatusSubresource(org).
		WithIndex(&b2bv1alpha1.PartnerOrganization{}, organization.DomainIndex, organization.IndexOrganization).
		WithIndex(&b2bv1alpha1.PartnerInvitation{}, organization.InvitationDomainIndex, organization.IndexInvitation).Build()
}

// A configuration Graph created while the answer was lost is the operator's own: the intent
// was in status before the create, so the next reconcile records it as Created, never as one
// made by someone else (AdoptionDenied), and never creates a second time.
func TestCreateSurvivesALostAnswer(t *testing.T) {
	c := newFakeClient(t)
	ctx := context.Background()
	current := func() *b2bv1alpha1.PartnerOrganization {
		var got b2bv1alpha1.PartnerOrganization
		if err := c.Get(ctx, client.ObjectKey{Name: "fabrikam"}, &got); err != nil {
			t.Fatal(err)
		}
		return &got
	}
	graphSide := &partnersAt{configs: map[string]*graph.PartnerConfiguration{}, loseCreateAnswer: true,
		read: func() b2bv1alpha1.ConfigurationOrigin { return current().Status.Configuration }}
	r := &Reconciler{Client: c, Tenants: oneTenant{graphSide}}
	req := ctrl.Request{NamespacedName: client.ObjectKey{Name: "fabrikam"}}

	if _, err := r.Reconcile(ctx, req); err == nil {
		t.Fatal("the lost answer was not reported")
	}
	if graphSide.markAtCreate != b2bv1alpha1.ConfigurationCreating {
		t.Fatalf("status.configuration when the create was sent = %q, want Creating", graphSide.markAtCreate)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	got := current()
	ready := meta.FindStatusCondition(got.Status.Conditions, b2bv1alpha1.ConditionReady)
	if got.Status.Configuration != b2bv1alpha1.ConfigurationCreated || ready == nil || ready.Reason != b2bv1alpha1.ReasonConfigured {
		t.Fatalf("after the retry: configuration %q, Ready %+v", got.Status.Configuration, ready)
	}
	if len(graphSide.configs) != 1 {
		t.Fatalf("configurations: %d", len(graphSide.configs))
	}
}

// A create Graph refused made nothing: the Creating mark is taken back, so a configuration
// someone makes in the portal afterwards is reported (AdoptionDenied), never taken for ours.
func TestRefusedCreateIsNotOurs(t *testing.T) {
	c := newFakeClient(t)
	ctx := context.Background()
	refusing := &refusingPartners{partnersAt: partnersAt{configs: map[string]*graph.PartnerConfiguration{}, read: func() b2bv1alpha1.ConfigurationOrigin { return "" }}}
	r := &Reconciler{Client: c, Tenants: oneTenant{refusing}}
	req := ctrl.Request{NamespacedName: client.ObjectKey{Name: "fabrikam"}}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	var got b2bv1alpha1.PartnerOrganization
	if err := c.Get(ctx, req.NamespacedName, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Configuration != "" || meta.FindStatusCondition(got.Status.Conditions, b2bv1alpha1.ConditionReady).Reason != b2bv1alpha1.ReasonPermissionDenied {
		t.Fatalf("after a refused create: configuration %q, conditions %+v", got.Status.Configuration, got.Status.Conditions)
	}
	refusing.configs["9c5d131d-b1c3-4fc4-9e3f-c6557947d551"] = &graph.PartnerConfiguration{TenantID: "9c5d131d-b1c3-4fc4-9e3f-c6557947d551"}
	got.Spec.Adoption = b2bv1alpha1.OrganizationAdoptionDeny
	got.Generation = 2
	if err := c.Update(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, req.NamespacedName, &got); err != nil {
		t.Fatal(err)
	}
	if ready := meta.FindStatusCondition(got.Status.Conditions, b2bv1alpha1.ConditionReady); ready.Reason != b2bv1alpha1.ReasonAdoptionDenied {
		t.Fatalf("a configuration made in the portal afterwards: %+v", ready)
	}
}

// refusingPartners answers every create with Graph's 403.
type refusingPartners struct{ partnersAt }

func (p *refusingPartners) CreatePartner(context.Context, graph.PartnerConfiguration) error {
	return &graph.Error{Kind: graph.KindTransient, Op: "create partner", StatusCode: 403, Code: "Authorization_RequestDenied"}
}
