package operatorproc

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// AllowInvitations creates a PartnerAccessPolicy that lets every namespace invite anyone, in
// any tenant. The
// operator denies namespaces that no policy selects, so a test that is not about policy says
// what its cluster owner allows, as a real install must.
func AllowInvitations(tb testing.TB, ctx context.Context, k8s client.Client) {
	tb.Helper()
	p := &b2bv1alpha1.PartnerAccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "test-allow-invitations"},
		Spec: b2bv1alpha1.PartnerAccessPolicySpec{NamespaceSelector: metav1.LabelSelector{},
			// Every tenant object too: the benchmark's tenants are ClusterGraphTenants.
			AllowedTenants: []b2bv1alpha1.TenantRule{{Kind: b2bv1alpha1.KindClusterGraphTenant, Name: "*"}, {Kind: b2bv1alpha1.KindGraphTenant, Name: "*"}}},
	}
	if err := k8s.Create(ctx, p); err != nil {
		tb.Fatalf("create PartnerAccessPolicy: %v", err)
	}
}

// StartEmulator starts the Graph emulator with opts and closes it when the test ends.
func StartEmulator(tb testing.TB, opts emulator.Options) *emulator.Emulator {
	tb.Helper()
	emu := emulator.New(opts)
	if err := emu.Start(); err != nil {
		tb.Fatalf("start the Graph emulator: %v", err)
	}
	tb.Cleanup(emu.Close)
	return emu
}
