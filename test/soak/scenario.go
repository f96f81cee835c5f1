package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/operator"
)

// kind says what an object's address leads to.
type kind int

const (
	fresh    kind = iota // a new partner: invited by the operator
	member               // a member account has the address: Conflict, never touched
	stranger             // a guest the operator did not invite, adoption denied: never touched
)

// object is the scenario's record of one PartnerInvitation.
type object struct {
	key     client.ObjectKey
	email   string
	kind    kind
	orphan  bool // deletionPolicy Orphan
	deleted bool
	// reinvites is how many times the scenario deleted the guest out of band: each allows
	// one more invitation mail.
	reinvites int
	// resends is how many resends the scenario asked for: each allows one more mail.
	resends int
}

// scenario drives a cluster and a directory the way months of use would, squeezed.
type scenario struct {
	tb     testing.TB
	ctx    context.Context
	k8s    client.Client
	emu    *emulator.Emulator
	rng    *rand.Rand
	groups []emulator.Group
	// foreign is a group only people outside the operator add guests to; the operator never
	// made those grants and must never revoke them.
	foreign emulator.Group

	mu          sync.Mutex
	objects     []*object
	strangers   map[string]string // user ID -> address of accounts the operator must not touch
	foreignAdds int
	actions     map[string]int
	// reasons is every Ready status/reason each object has reported (watchReasons).
	reasons map[client.ObjectKey]map[string]bool
}

const namespaces = 4

func newScenario(tb testing.TB, ctx context.Context, k8s client.Client, emu *emulator.Emulator, seed uint64) *scenario {
	return &scenario{tb: tb, ctx: ctx, k8s: k8s, emu: emu, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)),
		strangers: map[string]string{}, actions: map[string]int{}}
}

// setUp creates the namespaces, the cluster owner's policy, the groups, and accounts that exist
// before the operator: members and guests it did not invite.
func (s *scenario) setUp() {
	for i := range namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("soak-%d", i), Labels: map[string]string{"soak": "true"}}}
		s.must(s.k8s.Create(s.ctx, ns))
	}
	s.must(s.k8s.Create(s.ctx, &b2bv1alpha1.PartnerAccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "soak"},
		Spec: b2bv1alpha1.PartnerAccessPolicySpec{
			NamespaceSelector:   metav1.LabelSelector{MatchLabels: map[string]string{"soak": "true"}},
			AllowedGroups:       []string{"*"},
			AllowMemberUserType: true,
			Adoption:            b2bv1alpha1.AdoptionDeny,
		},
	}))
	// The admission policy refuses every create until the API server has seen a policy.
	probe := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: "soak-0", Name: "probe"},
		Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "probe@soak.example"}}
	for deadline := time.Now().Add(time.Minute); s.k8s.Create(s.ctx, probe.DeepCopy(), client.DryRunAll) != nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.tb.Fatal("the admission policy did not admit invitations within a minute of the PartnerAccessPolicy")
		}
	}
	for i := range 4 {
		s.groups = append(s.groups, s.emu.AddGroup(emulator.Group{DisplayName: fmt.Sprintf("Soak Group %d", i)}))
	}
	s.foreign = s.emu.AddGroup(emulator.Group{DisplayName: "Managed by someone else"})
	for i := range 5 {
		m := s.emu.AddUser(emulator.User{DisplayName: "Employee", Mail: fmt.Sprintf("employee-%d@soak.example", i), UserType: "Member", AccountEnabled: true})
		g := s.emu.AddUser(emulator.User{DisplayName: "Old guest", Mail: fmt.Sprintf("old-guest-%d@soak.example", i),
			OtherMails: []string{fmt.Sprintf("old-guest-%d@soak.example", i)}, UserType: "Guest", CreationType: "Invitation",
			ExternalUserState: "Accepted", AccountEnabled: true})
		s.strangers[m.ID], s.strangers[g.ID] = m.Mail, g.Mail
	}
}

func (s *scenario) must(err error) {
	if err != nil {
		s.tb.Fatal(err)
	}
}

// create adds the i-th object: mostly new partners, a few naming accounts the operator must
// leave alone.
func (s *scenario) create(i int) {
	o := &object{key: client.ObjectKey{Namespace: fmt.Sprintf("soak-%d", i%namespaces), Name: fmt.Sprintf("partner-%04d", i)},
		email: fmt.Sprintf("partner-%04d@soak.example", i), orphan: i%10 == 9}
	// One object for each account that existed before the operator (more would be Conflicts
	// with each other, which the claim tests cover).
	switch {
	case i%50 == 10 && i < 250:
		o.kind, o.email = member, fmt.Sprintf("employee-%d@soak.example", i/50)
	case i%50 == 30 && i < 250:
		o.kind, o.email = stranger, fmt.Sprintf("old-guest-%d@soak.example", i/50)
	}
	p := &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Namespace: o.key.Namespace, Name: o.key.Name},
		Spec: b2bv1alpha1.PartnerInvitationSpec{Email: o.email, DisplayName: "Partner " + o.key.Name,
			DeletionPolicy: b2bv1alpha1.DeletionPolicyDelete},
	}
	if o.orphan {
		p.Spec.DeletionPolicy = b2bv1alpha1.DeletionPolicyOrphan
	}
	if s.rng.IntN(2) == 0 {
		p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{s.groups[s.rng.IntN(len(s.groups))].ID}}
	}
	if err := s.k8s.Create(s.ctx, p); err != nil {
		s.tb.Errorf("create %s: %v", o.key, err)
		return
	}
	s.mu.Lock()
	s.objects = append(s.objects, o)
	s.mu.Unlock()
}

// act does one random thing a platform team, a partner or a directory administrator does.
func (s *scenario) act() {
	s.mu.Lock()
	var live []*object
	for _, o := range s.objects {
		if !o.deleted {
			live = append(live, o)
		}
	}
	s.mu.Unlock()
	if len(live) == 0 {
		return
	}
	o := live[s.rng.IntN(len(live))]
	name := ""
	switch r := s.rng.IntN(100); {
	case r < 30:
		name = "rename"
		s.edit(o, func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.DisplayName = fmt.Sprintf("Partner %s v%d", o.key.Name, s.rng.IntN(1000))
		})
	case r < 45:
		name = "change access"
		g := s.groups[s.rng.IntN(len(s.groups))].ID
		s.edit(o, func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Access = toggleGroup(p.Spec.Access, g) })
	case r < 50:
		name = "make member"
		s.edit(o, func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.UserType = b2bv1alpha1.UserTypeMember })
	case r < 60:
		name = "delete object"
		s.delete(o)
	case r < 80:
		name = "partner accepts"
		if u, ok := s.guestOf(o); ok && u.ExternalUserState == emulator.StatePendingAcceptance {
			_ = s.emu.AcceptInvitation(u.ID)
		}
	case r < 87:
		name = "guest deleted out of band"
		if u, ok := s.guestOf(o); ok && o.kind == fresh && s.emu.DeleteUserOutOfBand(u.ID) == nil {
			s.mu.Lock()
			o.reinvites++
			s.mu.Unlock()
		}
	case r < 94:
		name = "membership removed out of band"
		if u, ok := s.guestOf(o); ok && o.kind == fresh {
			for _, g := range s.groups {
				_ = s.emu.RemoveGroupMemberOutOfBand(g.ID, u.ID)
			}
		}
	default:
		name = "foreign grant"
		if u, ok := s.guestOf(o); ok && o.kind == fresh && s.emu.AddGroupMemberOutOfBand(s.foreign.ID, u.ID) == nil {
			s.mu.Lock()
			s.foreignAdds++
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	s.actions[name]++
	s.mu.Unlock()
}

func toggleGroup(a *b2bv1alpha1.PartnerAccess, id string) *b2bv1alpha1.PartnerAccess {
	if a == nil {
		return &b2bv1alpha1.PartnerAccess{Groups: []string{id}}
	}
	for i, g := range a.Groups {
		if g == id {
			a.Groups = append(a.Groups[:i], a.Groups[i+1:]...)
			return a
		}
	}
	a.Groups = append(a.Groups, id)
	return a
}

func (s *scenario) edit(o *object, mutate func(*b2bv1alpha1.PartnerInvitation)) {
	p := &b2bv1alpha1.PartnerInvitation{}
	if err := s.k8s.Get(s.ctx, o.key, p); err != nil {
		return
	}
	base := p.DeepCopy()
	mutate(p)
	if err := s.k8s.Patch(s.ctx, p, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
		s.tb.Errorf("edit %s: %v", o.key, err)
	}
}

func (s *scenario) delete(o *object) {
	p := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: o.key.Namespace, Name: o.key.Name}}
	if err := s.k8s.Delete(s.ctx, p); err != nil && !apierrors.IsNotFound(err) {
		s.tb.Errorf("delete %s: %v", o.key, err)
		return
	}
	s.mu.Lock()
	o.deleted = true
	s.mu.Unlock()
}

// guestOf finds the directory's user for the object's address.
func (s *scenario) guestOf(o *object) (emulator.User, bool) {
	for _, u := range s.emu.Users() {
		if strings.EqualFold(u.Mail, o.email) {
			return u, true
		}
	}
	return emulator.User{}, false
}

// watchReasons records, from a watch, every Ready reason an object reports on its way, so a
// wrong reason that lasted only between two looks is still seen.
func (s *scenario) watchReasons(restCfg *rest.Config) {
	scheme, err := operator.NewScheme()
	s.must(err)
	c, err := client.NewWithWatch(restCfg, client.Options{Scheme: scheme})
	s.must(err)
	s.reasons = map[client.ObjectKey]map[string]bool{}
	rv := ""
	// A watch ends now and then (the API server's timeout); the next resumes where it ended.
	go wait.UntilWithContext(s.ctx, func(ctx context.Context) {
		w, err := c.Watch(ctx, &b2bv1alpha1.PartnerInvitationList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
		if err != nil {
			return
		}
		defer w.Stop()
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*b2bv1alpha1.PartnerInvitation)
			if !ok {
				continue
			}
			rv = p.ResourceVersion
			key := client.ObjectKeyFromObject(p)
			s.mu.Lock()
			if s.reasons[key] == nil {
				s.reasons[key] = map[string]bool{}
			}
			s.reasons[key][ready(p)] = true
			s.mu.Unlock()
		}
	}, 100*time.Millisecond)
}

// wrongReasons lists new partners that at any time read a reason only an account the
// operator does not own deserves.
func (s *scenario) wrongReasons() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, o := range s.objects {
		if o.kind != fresh {
			continue
		}
		for _, wrong := range []string{b2bv1alpha1.ReasonAdoptionDenied, b2bv1alpha1.ReasonConflict} {
			if s.reasons[o.key]["False/"+wrong] {
				out = append(out, fmt.Sprintf("%s (%s), invited by the operator, read Ready False/%s", o.key, o.email, wrong))
			}
		}
	}
	return out
}

// liveFresh is the new partners whose objects still exist.
func (s *scenario) liveFresh() []*object {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*object
	for _, o := range s.objects {
		if !o.deleted && o.kind == fresh {
			out = append(out, o)
		}
	}
	return out
}
