// Package organization finds the PartnerOrganization an address belongs to, from the cache,
// counts an organization's invitations, and maps its settings to Graph's and back
// (settings.go). Its field indexes are shared by the invitation, organization and policy
// reconcilers, so they are registered once (Register).
package organization

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// InvitationDomainIndex maps a lower-cased mail domain to the PartnerInvitations to it.
const InvitationDomainIndex = "spec.email.domain"

// DomainIndex maps a lower-cased domain to the PartnerOrganizations that list it.
const DomainIndex = "spec.domains.lower"

// DomainOf is the lower-cased domain of an address, "" when it has none.
func DomainOf(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 || at == len(email)-1 {
		return ""
	}
	return strings.ToLower(email[at+1:])
}

// IndexInvitation is InvitationDomainIndex's function (fake clients in tests register it too).
func IndexInvitation(o client.Object) []string {
	pinv, ok := o.(*b2bv1alpha1.PartnerInvitation)
	if !ok {
		return nil
	}
	if d := DomainOf(pinv.Spec.Email); d != "" {
		return []string{d}
	}
	return nil
}

// IndexOrganization is DomainIndex's function.
func IndexOrganization(o client.Object) []string {
	org, ok := o.(*b2bv1alpha1.PartnerOrganization)
	if !ok {
		return nil
	}
	return Domains(org)
}

// Domains are the organization's domains, lower-cased, sorted, without repeats.
func Domains(org *b2bv1alpha1.PartnerOrganization) []string {
	out := make([]string, 0, len(org.Spec.Domains))
	for _, d := range org.Spec.Domains {
		out = append(out, strings.ToLower(d))
	}
	sort.Strings(out)
	return compact(out)
}

func compact(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// Register adds the two indexes to the manager's cache.
func Register(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &b2bv1alpha1.PartnerInvitation{}, InvitationDomainIndex, IndexInvitation); err != nil {
		return fmt.Errorf("index PartnerInvitations by domain: %w", err)
	}
	if err := indexer.IndexField(ctx, &b2bv1alpha1.PartnerOrganization{}, DomainIndex, IndexOrganization); err != nil {
		return fmt.Errorf("index PartnerOrganizations by domain: %w", err)
	}
	return nil
}

// ForDomain is the organization that holds the domain: of two that list it, the one that
// manages a partner configuration already, else the older one (the other reports the clash);
// nil when none does.
func ForDomain(ctx context.Context, c client.Reader, domain string) (*b2bv1alpha1.PartnerOrganization, error) {
	if domain == "" {
		return nil, nil
	}
	var list b2bv1alpha1.PartnerOrganizationList
	if err := c.List(ctx, &list, client.MatchingFields{DomainIndex: strings.ToLower(domain)}); err != nil {
		return nil, fmt.Errorf("list PartnerOrganizations for %s: %w", domain, err)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	first := &list.Items[0]
	for i := range list.Items[1:] {
		if older(&list.Items[i+1], first) {
			first = &list.Items[i+1]
		}
	}
	return first, nil
}

// older orders organizations so every reader picks the same holder: one that manages its
// configuration first (a new object never displaces it, even one created in the same second),
// then by creation, then by name.
func older(a, b *b2bv1alpha1.PartnerOrganization) bool {
	if am, bm := a.Status.Configuration != "", b.Status.Configuration != ""; am != bm {
		return am
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// Invitations lists the PartnerInvitations to addresses in the organization's domains.
func Invitations(ctx context.Context, c client.Reader, org *b2bv1alpha1.PartnerOrganization) ([]b2bv1alpha1.PartnerInvitation, error) {
	var out []b2bv1alpha1.PartnerInvitation
	for _, d := range Domains(org) {
		var list b2bv1alpha1.PartnerInvitationList
		if err := c.List(ctx, &list, client.MatchingFields{InvitationDomainIndex: d}); err != nil {
			return nil, fmt.Errorf("list PartnerInvitations to %s: %w", d, err)
		}
		out = append(out, list.Items...)
	}
	return out, nil
}

// MarkedForDeletion passes the update that marks an organization for deletion: its domains stop
// counting then, and its deletion policy is due. The watches of organizations share it.
func MarkedForDeletion() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
	}}
}

// AllDomains lists every organization's domains, lower-cased and sorted: what a policy that
// requires an organization admits.
func AllDomains(ctx context.Context, c client.Reader) ([]string, error) {
	var list b2bv1alpha1.PartnerOrganizationList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("list PartnerOrganizations: %w", err)
	}
	var out []string
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			out = append(out, Domains(&list.Items[i])...)
		}
	}
	sort.Strings(out)
	return compact(out), nil
}
