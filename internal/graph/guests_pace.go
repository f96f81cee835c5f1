package graph

import "context"

// PaceReader wraps a GuestReader so that its requests stay within the budget's resource units
// (a page of users, a user's memberships or its assignments each cost one with $select), and a
// throttled answer holds the next request back for Graph's Retry-After.
func PaceReader(r GuestReader, b Budget) GuestReader {
	return &pacedReader{next: r, p: newPaced(b)}
}

type pacedReader struct {
	next GuestReader
	p    *paced
}

// ListGuests is charged per page (see pacePages).
func (r *pacedReader) ListGuests(ctx context.Context, q GuestQuery, page func([]User) error) error {
	return pacePages(ctx, r.p, func(each func([]User) error) error { return r.next.ListGuests(ctx, q, each) }, page)
}

// pacePages runs a paged listing within p's budget, one list request per page: charged before
// the first request and, since the next page is requested when page returns, after each page.
func pacePages[T any](ctx context.Context, p *paced, list func(each func([]T) error) error, page func([]T) error) error {
	done, err := p.admit(ctx, costList, classRead)
	if err != nil {
		return err
	}
	err = list(func(items []T) error {
		_ = done(nil) // this page has arrived
		done = func(err error) error { return err }
		if err := page(items); err != nil {
			return err
		}
		next, err := p.admit(ctx, costList, classRead)
		if err != nil {
			return err
		}
		done = next
		return nil
	})
	return done(err)
}

func (r *pacedReader) MemberOf(ctx context.Context, userID string) ([]MemberGroup, error) {
	done, err := r.p.admit(ctx, costList, classRead)
	if err != nil {
		return nil, err
	}
	g, err := r.next.MemberOf(ctx, userID)
	return g, done(err)
}

func (r *pacedReader) AppRoleAssignments(ctx context.Context, userID string) ([]AssignedAppRole, error) {
	done, err := r.p.admit(ctx, costList, classRead)
	if err != nil {
		return nil, err
	}
	a, err := r.next.AppRoleAssignments(ctx, userID)
	return a, done(err)
}
