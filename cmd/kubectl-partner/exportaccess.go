package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// accessReaders is how many guests' access is read at once: enough to hide Graph's latency,
// while the pacing keeps the rate under the tenant's quota.
const accessReaders = 8

// maxAccessEntries is what spec.access.groups and spec.access.applications hold at most.
const maxAccessEntries = 50

// guestAccess is what a manifest grants a guest: what it has and the operator could manage.
type guestAccess struct {
	groups []string
	apps   []b2bv1alpha1.ApplicationAccess
	// left out, for the report
	skipped   []graph.MemberGroup
	reasons   []string
	viaGroups int
}

// readAccess reads every guest's memberships and app role assignments, a few guests at a time.
// The first error stops it.
func readAccess(ctx context.Context, r graph.GuestReader, guests []graph.User, rep *exportReport, progress io.Writer) (map[string]*guestAccess, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		out      = make(map[string]*guestAccess, len(guests))
		firstErr error
		done     int
		wg       sync.WaitGroup
	)
	work := make(chan *graph.User)
	for range accessReaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				a, err := guestAccessOf(ctx, r, u)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("read the access of guest %s: %w", u.ID, err)
					cancel()
				}
				if err == nil {
					out[u.ID] = a
					if done++; done%progressEvery == 0 {
						fmt.Fprintf(progress, "export: access of %d of %d guests read\n", done, len(guests))
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range guests {
		select {
		case work <- &guests[i]:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.addAccess(guests, out)
	return out, nil
}

// guestAccessOf reads one guest's access and keeps what the operator could manage: direct
// memberships of groups Graph lets it change, and roles assigned to the guest itself (those
// held through a group come and go with the membership).
func guestAccessOf(ctx context.Context, r graph.GuestReader, u *graph.User) (*guestAccess, error) {
	groups, err := r.MemberOf(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	assignments, err := r.AppRoleAssignments(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	a := &guestAccess{}
	for _, g := range groups {
		if ok, why := g.Manageable(); !ok {
			a.skipped, a.reasons = append(a.skipped, g), append(a.reasons, why)
			continue
		}
		a.groups = append(a.groups, g.ID)
	}
	for _, as := range assignments {
		if !strings.EqualFold(as.PrincipalType, graph.PrincipalTypeUser) || as.PrincipalID != u.ID {
			a.viaGroups++
			continue
		}
		role := as.AppRoleID
		if role == graph.DefaultAppRoleID {
			role = "" // default access, as spec.access.applications spells it
		}
		a.apps = append(a.apps, b2bv1alpha1.ApplicationAccess{App: as.ResourceID, Role: role})
	}
	// Sorted and without repeats, so that exporting again writes the same bytes.
	slices.Sort(a.groups)
	a.groups = slices.Compact(a.groups)
	slices.SortFunc(a.apps, func(x, y b2bv1alpha1.ApplicationAccess) int {
		return strings.Compare(x.App+"/"+x.Role, y.App+"/"+y.Role)
	})
	a.apps = slices.Compact(a.apps)
	return a, nil
}

// addAccess records, in the guests' order, what was left out and what the manifests grant.
func (rep *exportReport) addAccess(guests []graph.User, access map[string]*guestAccess) {
	rep.skippedGroups, rep.groups, rep.apps = map[string]*skippedGroup{}, map[string]bool{}, map[string]bool{}
	for _, u := range guests {
		a := access[u.ID]
		for i, g := range a.skipped {
			s := rep.skippedGroups[g.ID]
			if s == nil {
				s = &skippedGroup{name: g.DisplayName, why: a.reasons[i]}
				rep.skippedGroups[g.ID] = s
			}
			s.members++
		}
		rep.viaGroups += a.viaGroups
		// The schema holds 50 of each; the operator leaves memberships it did not make alone,
		// so the rest stay as they are, unmanaged.
		if n := len(a.groups); n > maxAccessEntries {
			rep.truncated = append(rep.truncated, fmt.Sprintf("guest %s is in %d groups; its manifest lists the first %d", u.ID, n, maxAccessEntries))
			a.groups = a.groups[:maxAccessEntries]
		}
		if n := len(a.apps); n > maxAccessEntries {
			rep.truncated = append(rep.truncated, fmt.Sprintf("guest %s has %d app roles; its manifest lists the first %d", u.ID, n, maxAccessEntries))
			a.apps = a.apps[:maxAccessEntries]
		}
		for _, g := range a.groups {
			rep.groups[g] = true
		}
		for _, app := range a.apps {
			rep.apps[app.App] = true
		}
	}
}
