package partnerinvitation

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/logging"
)

// resolveSponsors maps spec.sponsors to directory objects: a user principal name to its user,
// an object ID to its user or group. Entries resolved before are taken from status. A sponsor
// that does not exist, or a guest, is a problem named by its field.
func (r *Reconciler) resolveSponsors(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) ([]b2bv1alpha1.SponsorGrant, []accessProblem, error) {
	known := map[string]b2bv1alpha1.SponsorGrant{}
	for _, s := range pinv.Status.Sponsors {
		known[s.Ref] = s
	}
	var out []b2bv1alpha1.SponsorGrant
	var problems []accessProblem
	for i, ref := range pinv.Spec.Sponsors {
		if s, ok := known[ref]; ok {
			out = append(out, b2bv1alpha1.SponsorGrant{Ref: ref, ID: s.ID, Type: s.Type})
			continue
		}
		s, problem, err := r.resolveSponsor(ctx, fmt.Sprintf("spec.sponsors[%d]", i), ref)
		switch {
		case err != nil:
			return nil, nil, err
		case problem != nil:
			problems = append(problems, *problem)
		default:
			out = append(out, *s)
		}
	}
	return out, problems, nil
}

func (r *Reconciler) resolveSponsor(ctx context.Context, field, ref string) (*b2bv1alpha1.SponsorGrant, *accessProblem, error) {
	u, err := r.Directory.GetUser(ctx, ref)
	switch {
	case err == nil && !strings.EqualFold(u.UserType, graph.UserTypeMember):
		return nil, &accessProblem{b2bv1alpha1.ReasonSponsorNotMember, fmt.Sprintf(
			"%s is a %s account; sponsors are members of the tenant", sponsorName(field, ref), u.UserType)}, nil
	case err == nil:
		return &b2bv1alpha1.SponsorGrant{Ref: ref, ID: u.ID, Type: graph.ObjectTypeUser}, nil, nil
	case !graph.IsNotFound(err):
		return nil, nil, redactSponsor(err, field, ref)
	}
	if objectIDPattern.MatchString(ref) {
		g, err := r.Directory.GetGroup(ctx, ref)
		if err == nil {
			return &b2bv1alpha1.SponsorGrant{Ref: ref, ID: g.ID, Type: graph.ObjectTypeGroup}, nil, nil
		}
		if !graph.IsNotFound(err) {
			return nil, nil, redactSponsor(err, field, ref)
		}
		return nil, &accessProblem{b2bv1alpha1.ReasonSponsorNotFound, fmt.Sprintf("%s: no user or group %s in the tenant", field, ref)}, nil
	}
	return nil, &accessProblem{b2bv1alpha1.ReasonSponsorNotFound, fmt.Sprintf("%s: no user with that user principal name in the tenant", field)}, nil
}

// sponsorName is how condition and event messages name a sponsor: by its field, and by its
// object ID when the spec gives one. A user principal name looks like a mail address and is
// as personal: like spec.email it is never repeated, the field points to it.
func sponsorName(field, ref string) string {
	if objectIDPattern.MatchString(ref) {
		return field + " (" + ref + ")"
	}
	return field
}

// redactSponsor keeps a sponsor's user principal name out of an error's text, which becomes
// a condition message (a transport error quotes the request URL, and the URL holds it); the
// error underneath still answers errors.Is and errors.As.
func redactSponsor(err error, field, ref string) error {
	msg := err.Error()
	for _, form := range []string{ref, url.PathEscape(ref), url.QueryEscape(ref), strings.ReplaceAll(url.PathEscape(ref), "@", "%40")} {
		msg = strings.ReplaceAll(msg, form, field)
	}
	msg = logging.MailAddress.ReplaceAllLiteralString(msg, logging.RedactedAddress)
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// sponsorIDs are the object IDs to send with an invitation.
func sponsorIDs(sponsors []b2bv1alpha1.SponsorGrant) []string {
	ids := make([]string, 0, len(sponsors))
	for _, s := range sponsors {
		ids = append(ids, s.ID)
	}
	return ids
}

// reconcileSponsors brings the guest's sponsors to spec.sponsors: it adds the missing ones and
// removes the ones this object added that left the spec; sponsors someone else added stay.
// The guest's sponsors are read first (unless the invitation just set them), so one removed
// outside the operator is added back.
func (r *Reconciler) reconcileSponsors(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, userID string, justInvited bool) (accessOutcome, error) {
	var out accessOutcome
	if len(pinv.Spec.Sponsors) == 0 && len(pinv.Status.Sponsors) == 0 {
		return out, nil
	}
	want, problems, err := r.resolveSponsors(ctx, pinv)
	if err != nil {
		return out, err
	}
	out.problems = problems
	have := pinv.Status.Sponsors
	if !justInvited {
		actual, err := r.Directory.ListSponsors(ctx, userID)
		if err != nil {
			if isPendingVisibility(err) {
				out.pending = err
				return out, nil
			}
			return out, err
		}
		have = presentSponsors(have, actual)
	}
	// The account this object's invitation created carries the sponsors the invitation sent,
	// even when the answer never reached the status: they are this object's.
	invited := !pinv.Status.Adopted
	pinv.Status.Sponsors, err = syncGrants(have, want, grantOps[b2bv1alpha1.SponsorGrant]{
		key:     func(s b2bv1alpha1.SponsorGrant) string { return strings.ToLower(s.ID) },
		managed: func(s b2bv1alpha1.SponsorGrant) bool { return s.Managed },
		revoke:  func(s b2bv1alpha1.SponsorGrant) error { return r.Directory.RemoveSponsor(ctx, userID, s.ID) },
		grant: func(s b2bv1alpha1.SponsorGrant) (b2bv1alpha1.SponsorGrant, error) {
			err := r.Directory.AddSponsor(ctx, userID, s.ID)
			s.Managed = err == nil || (invited && graph.IsAlreadyExists(err))
			if graph.IsAlreadyExists(err) {
				err = nil
			}
			return s, err
		},
	}, &out)
	return out, err
}

// presentSponsors keeps the recorded sponsors the guest still has.
func presentSponsors(recorded []b2bv1alpha1.SponsorGrant, actual []graph.DirectoryObject) []b2bv1alpha1.SponsorGrant {
	has := map[string]bool{}
	for _, o := range actual {
		has[strings.ToLower(o.ID)] = true
	}
	var out []b2bv1alpha1.SponsorGrant
	for _, s := range recorded {
		if has[strings.ToLower(s.ID)] {
			out = append(out, s)
		}
	}
	return out
}
