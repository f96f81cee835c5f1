package partnerinvitation

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

// A sponsor's user principal name looks like a mail address and is as personal: condition and
// event messages name the sponsor by its field (and by its object ID when the spec gives one),
// like spec.email, and an error that quotes the UPN (a transport error quotes the request URL)
// is reported without it.
func TestSponsorUPNsStayOutOfMessages(t *testing.T) {
	const (
		missing = "nadia.novak@contoso.example"
		guest   = "gus_elsewhere.example#EXT#@contoso.onmicrosoft.com"
		broken  = "bert@contoso.example"
		member  = "mia@contoso.example"
		groupID = "22222222-2222-2222-2222-222222222222"
	)
	upns := []string{missing, guest, broken, member, url.PathEscape(guest), "gus_elsewhere.example"}
	transport := &graph.Error{Kind: graph.KindTransient, Op: "get user", Err: &url.Error{Op: "Get",
		URL: "https://graph.microsoft.com/v1.0/users/" + url.PathEscape(broken) + "?%24select=id", Err: errors.New("connection reset by peer")}}
	dir := &graphtest.Fake{
		GetUserFn: func(_ context.Context, id string) (*graph.User, error) {
			switch id {
			case member:
				return &graph.User{ID: "33333333-3333-3333-3333-333333333333", UserType: graph.UserTypeMember}, nil
			case guest:
				return &graph.User{ID: "44444444-4444-4444-4444-444444444444", UserType: "Guest"}, nil
			case broken:
				return nil, transport
			case guestID:
				return pendingGuest(guestID), nil
			}
			return nil, &graph.Error{Kind: graph.KindNotFound, StatusCode: 404, Code: "Request_ResourceNotFound",
				Message: "Resource '" + id + "' does not exist or one of its queried reference-property objects are not present."}
		},
		GetGroupFn: func(context.Context, string) (*graph.Group, error) {
			return nil, &graph.Error{Kind: graph.KindNotFound, StatusCode: 404}
		},
	}
	h := newHarness(t, dir, nil)

	t.Run("problems", func(t *testing.T) {
		pinv := invitation(func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Sponsors = []string{member, missing, guest, groupID} })
		got, problems, err := h.r.resolveSponsors(context.Background(), pinv)
		if err != nil || len(got) != 1 || len(problems) != 3 {
			t.Fatalf("resolved %v, problems %v, err %v; want one sponsor and three problems", got, problems, err)
		}
		want := []string{
			"spec.sponsors[1]: no user with that user principal name in the tenant",
			"spec.sponsors[2] is a Guest account; sponsors are members of the tenant",
			"spec.sponsors[3]: no user or group " + groupID + " in the tenant",
		}
		for i, p := range problems {
			if p.message != want[i] {
				t.Errorf("problem %d: %q, want %q", i, p.message, want[i])
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		pinv := invitation(func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Sponsors = []string{member, broken} })
		_, _, err := h.r.resolveSponsors(context.Background(), pinv)
		var gerr *graph.Error
		if err == nil || !errors.As(err, &gerr) || gerr.Kind != graph.KindTransient || graph.IsNotFound(err) {
			t.Fatalf("err %v; want the Graph error, still classified", err)
		}
		for _, upn := range upns {
			if strings.Contains(err.Error(), upn) {
				t.Errorf("error names %s: %v", upn, err)
			}
		}
		if !strings.Contains(err.Error(), "spec.sponsors[1]") || !strings.Contains(err.Error(), "connection reset by peer") {
			t.Errorf("error %q should name the field and keep the cause", err)
		}
	})

	t.Run("conditions and events", func(t *testing.T) {
		pinv := invitation(func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Sponsors = []string{member, missing, guest}
		})
		dir.FindUsersByEmailFn = func(context.Context, string) ([]graph.User, error) { return nil, nil }
		dir.InviteFn = func(context.Context, graph.InvitationRequest) (*graph.Invitation, error) {
			return &graph.Invitation{UserID: guestID, RedeemURL: "https://redeem.example/x"}, nil
		}
		dir.ListSponsorsFn = func(context.Context, string) ([]graph.DirectoryObject, error) { return nil, nil }
		dir.AddSponsorFn = func(context.Context, string, string) error { return nil }
		h := newHarness(t, dir, nil, pinv)
		_, _ = h.reconcile(t)
		p := h.get(t)
		if c := meta.FindStatusCondition(p.Status.Conditions, b2bv1alpha1.ConditionReady); c == nil || !strings.Contains(c.Message, "spec.sponsors[1]") {
			t.Fatalf("Ready %+v; want the missing sponsor named by its field", c)
		}
		var texts []string
		for _, c := range p.Status.Conditions {
			texts = append(texts, c.Message)
		}
		for len(h.events.Events) > 0 {
			texts = append(texts, <-h.events.Events)
		}
		for _, text := range texts {
			for _, upn := range upns {
				if strings.Contains(text, upn) {
					t.Errorf("message names %s: %s", upn, text)
				}
			}
		}
	})
}
