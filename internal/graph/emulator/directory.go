package emulator

import (
	"sort"
	"strings"
	"time"
)

// directory is the tenant's state. Every method expects the caller to hold Emulator.mu.
type directory struct {
	// seq is the change sequence: every change to a user takes the next number, which is
	// what users/delta compares against its token.
	seq int64
	// ord numbers objects in creation order so listings are stable.
	ord int64

	users      map[string]*userRec
	deleted    map[string]*deletedRec
	tombstones []tombstone

	groups      map[string]*groupRec
	sps         map[string]*spRec
	assignments []*assignmentRec

	apps map[string]*appRec // by object id
	// extProps are the directory extension properties of every application, by lower-cased
	// full name (extension_{appId without dashes}_{name}).
	extProps map[string]*extPropRec

	invitations int64
	mails       map[string]int // lower-cased address -> invitation mails sent
	// redeemTokens maps the token of every redemption URL handed out to its user, so a test
	// can check that the URL an operator kept still works.
	redeemTokens map[string]string

	deltaPages  map[string]deltaPage  // $skiptoken -> page position
	deltaTokens map[string]deltaState // $deltatoken -> state
}

func newDirectory() directory {
	return directory{
		users:        map[string]*userRec{},
		deleted:      map[string]*deletedRec{},
		groups:       map[string]*groupRec{},
		sps:          map[string]*spRec{},
		apps:         map[string]*appRec{},
		extProps:     map[string]*extPropRec{},
		mails:        map[string]int{},
		redeemTokens: map[string]string{},
		deltaPages:   map[string]deltaPage{},
		deltaTokens:  map[string]deltaState{},
	}
}

type userRec struct {
	User
	ord int64
	seq int64
	// visibleAt is when replication "catches up": before it, reads answer 404.
	visibleAt time.Time
	// sponsors are the object ids of the user's sponsors (users or groups), in the order
	// they were added.
	sponsors []string
}

type deletedRec struct {
	user      User
	deletedAt time.Time
	ord       int64 // deletion order, for listings
}

// tombstone records a deletion for users/delta ("@removed").
type tombstone struct {
	id  string
	seq int64
}

func (d *directory) nextSeq() int64 {
	d.seq++
	return d.seq
}

func (d *directory) nextOrd() int64 {
	d.ord++
	return d.ord
}

// touch marks a user changed, so the next delta round reports it.
func (d *directory) touch(u *userRec) { u.seq = d.nextSeq() }

func (u *userRec) visible(now time.Time) bool { return !now.Before(u.visibleAt) }

// visibleUser returns the user only when replication has caught up with it.
func (d *directory) visibleUser(id string, now time.Time) *userRec {
	u := d.users[id]
	if u == nil || !u.visible(now) {
		return nil
	}
	return u
}

// userByKey finds a user by object id or, as /users/{id-or-upn} does, by user principal
// name (case-insensitively), visible or not.
func (d *directory) userByKey(key string) *userRec {
	if u := d.users[key]; u != nil {
		return u
	}
	if !strings.Contains(key, "@") {
		return nil
	}
	var found *userRec
	for _, u := range d.users {
		if (found == nil || u.ord < found.ord) && strings.EqualFold(u.UserPrincipalName, key) {
			found = u
		}
	}
	return found
}

// visibleUserByKey is userByKey for reads: nil until replication has caught up.
func (d *directory) visibleUserByKey(key string, now time.Time) *userRec {
	u := d.userByKey(key)
	if u == nil || !u.visible(now) {
		return nil
	}
	return u
}

// userByAddress finds a user whose mail or otherMails match addr, case-insensitively,
// visible or not: the directory itself knows about a user before reads do.
func (d *directory) userByAddress(addr string) *userRec {
	var found *userRec
	for _, u := range d.users {
		if (found == nil || u.ord < found.ord) && u.hasAddress(addr) {
			found = u
		}
	}
	return found
}

func (u *userRec) hasAddress(addr string) bool {
	if strings.EqualFold(u.Mail, addr) {
		return true
	}
	for _, m := range u.OtherMails {
		if strings.EqualFold(m, addr) {
			return true
		}
	}
	return false
}

func (d *directory) sortedUsers() []*userRec {
	out := make([]*userRec, 0, len(d.users))
	for _, u := range d.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ord < out[j].ord })
	return out
}

// deleteUser soft-deletes a user and drops its group memberships, app role assignments and
// sponsorships of other users, as Entra does when a user object goes to deletedItems.
func (d *directory) deleteUser(id string, now time.Time) bool {
	u := d.users[id]
	if u == nil {
		return false
	}
	delete(d.users, id)
	d.deleted[id] = &deletedRec{user: cloneUser(u.User), deletedAt: now, ord: d.nextOrd()}
	d.tombstones = append(d.tombstones, tombstone{id: id, seq: d.nextSeq()})
	for _, g := range d.groups {
		g.removeMember(id)
	}
	for _, other := range d.users {
		other.removeSponsor(id)
	}
	kept := d.assignments[:0]
	for _, a := range d.assignments {
		if a.PrincipalID != id {
			kept = append(kept, a)
		}
	}
	d.assignments = kept
	return true
}

// restoreUser brings a soft-deleted user back; delta reports it as changed.
func (d *directory) restoreUser(id string) *userRec {
	del := d.deleted[id]
	if del == nil {
		return nil
	}
	delete(d.deleted, id)
	u := &userRec{User: del.user, ord: d.nextOrd()}
	d.touch(u)
	d.users[id] = u
	return u
}

// sortByOrd sorts records into creation order.
func sortByOrd[T any](s []T, ord func(T) int64) {
	sort.Slice(s, func(i, j int) bool { return ord(s[i]) < ord(s[j]) })
}
