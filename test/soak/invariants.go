package soak

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// waitConverged waits until every object has reached its final state: deleted objects gone
// (no finalizer left behind), new partners Ready with the current generation observed, and
// objects naming accounts the operator must not touch reporting why. It returns what is still
// off when the bound runs out.
func (s *scenario) waitConverged(bound time.Duration, dep *deployment) []string {
	deadline := time.Now().Add(bound)
	for {
		dep.restartExited()
		problems := s.unconverged()
		if len(problems) == 0 || time.Now().After(deadline) {
			return problems
		}
		time.Sleep(time.Second)
	}
}

func (s *scenario) unconverged() []string {
	var out []string
	for _, o := range s.objects {
		p := &b2bv1alpha1.PartnerInvitation{}
		err := s.k8s.Get(s.ctx, o.key, p)
		switch {
		case o.deleted && apierrors.IsNotFound(err):
			continue
		case o.deleted && err == nil:
			out = append(out, fmt.Sprintf("%s was deleted but is still there (finalizers %v, Ready %s)", o.key, p.Finalizers, ready(p)))
			continue
		case err != nil:
			out = append(out, fmt.Sprintf("%s: %v", o.key, err))
			continue
		}
		want := "True/InSync"
		switch o.kind {
		case member:
			want = "False/" + b2bv1alpha1.ReasonConflict
		case stranger:
			want = "False/" + b2bv1alpha1.ReasonAdoptionDenied
		}
		if got := ready(p); got != want || p.Status.ObservedGeneration != p.Generation {
			out = append(out, fmt.Sprintf("%s: Ready %s (want %s), observedGeneration %d of %d", o.key, got, want, p.Status.ObservedGeneration, p.Generation))
		}
	}
	return out
}

func ready(p *b2bv1alpha1.PartnerInvitation) string {
	c := meta.FindStatusCondition(p.Status.Conditions, b2bv1alpha1.ConditionReady)
	if c == nil {
		return "none"
	}
	return string(c.Status) + "/" + c.Reason
}

type count struct {
	name string
	n    int
}

type invariants struct {
	counts     []count
	violations []string
}

func (inv *invariants) add(name string, violations []string) {
	inv.counts = append(inv.counts, count{name, len(violations)})
	inv.violations = append(inv.violations, violations...)
}

// checkInvariants reads the emulator's own log and directory, never the operator's metrics.
func (s *scenario) checkInvariants(leases *leaseHistory) invariants {
	reqs := s.emu.Requests()
	users := s.emu.Users()
	var inv invariants
	inv.add("invitation mails beyond 1 + re-invitations caused", s.duplicateMails(reqs))
	inv.add("guests left whose object was deleted with Delete", s.guestsLeftBehind(users, reqs))
	inv.add("writes to accounts the operator does not own", s.foreignWrites(reqs))
	inv.add("grants revoked that no object made", s.foreignRevokes(reqs))
	inv.add("redemption URLs lost (pending guest, no working URL)", s.lostURLs())
	inv.add("Graph writes from a replica after another acquired the lease", deposedWrites(reqs, leases.acquisitions()))
	inv.add("fresh objects that ever read AdoptionDenied or Conflict", s.wrongReasons())
	return inv
}

func (s *scenario) duplicateMails(reqs []emulator.Request) []string {
	var out []string
	for _, o := range s.objects {
		allowed := 1 + o.reinvites + o.resends
		if o.kind != fresh {
			allowed = 0
		}
		if n := s.emu.MailsSent(o.email); n > allowed {
			out = append(out, fmt.Sprintf("%s: %d invitation mails, %d allowed\n%s", o.email, n, allowed, history(reqs, o.email)))
		}
	}
	return out
}

func (s *scenario) guestsLeftBehind(users []emulator.User, reqs []emulator.Request) []string {
	var out []string
	for _, o := range s.objects {
		if !o.deleted || o.orphan || o.kind != fresh {
			continue
		}
		for _, u := range users {
			if strings.EqualFold(u.Mail, o.email) {
				out = append(out, fmt.Sprintf("%s: guest %s outlived %s (deletionPolicy Delete)\n%s", o.email, u.ID, o.key, history(reqs, o.email, u.ID)))
			}
		}
	}
	return out
}

func (s *scenario) foreignWrites(reqs []emulator.Request) []string {
	var out []string
	for id, email := range s.strangers {
		for _, q := range reqs {
			if q.Method == "GET" || q.Status >= 400 {
				continue
			}
			if strings.Contains(q.Path, id) || strings.Contains(string(q.Body), id) || strings.Contains(strings.ToLower(string(q.Body)), email) {
				out = append(out, fmt.Sprintf("%s (%s) was written to: %s", email, id, describe(q)))
			}
		}
		if _, ok := s.emu.User(id); !ok {
			out = append(out, fmt.Sprintf("%s (%s), an account the operator does not own, is gone", email, id))
		}
	}
	return out
}

func (s *scenario) foreignRevokes(reqs []emulator.Request) []string {
	var out []string
	for _, q := range reqs {
		if q.Method == "DELETE" && strings.HasPrefix(q.Path, "/groups/"+s.foreign.ID+"/") {
			out = append(out, "a membership of the group the operator never granted was revoked: "+describe(q))
		}
	}
	return out
}

func (s *scenario) lostURLs() []string {
	var out []string
	for _, o := range s.objects {
		if o.deleted || o.kind != fresh {
			continue
		}
		p := &b2bv1alpha1.PartnerInvitation{}
		if err := s.k8s.Get(s.ctx, o.key, p); err != nil || p.Status.State != b2bv1alpha1.StatePendingAcceptance {
			continue
		}
		secret := &corev1.Secret{}
		if err := s.k8s.Get(s.ctx, client.ObjectKey{Namespace: o.key.Namespace, Name: o.key.Name + "-invitation"}, secret); err != nil {
			out = append(out, fmt.Sprintf("%s: pending, and its Secret: %v", o.key, err))
			continue
		}
		if id, ok := s.emu.RedeemURLUser(string(secret.Data["redeemURL"])); !ok || id != p.Status.UserID {
			out = append(out, fmt.Sprintf("%s: pending guest %s, but the Secret's URL redeems %q", o.key, p.Status.UserID, id))
		}
	}
	return out
}

var replicaInUA = regexp.MustCompile(`partner-operator \(([^)]+)\)`)

// history lists, in order, the requests that name the address or one of the IDs.
func history(reqs []emulator.Request, email string, ids ...string) string {
	var b strings.Builder
	for _, q := range reqs {
		query, _ := url.QueryUnescape(q.RawQuery)
		hit := strings.Contains(strings.ToLower(string(q.Body)), strings.ToLower(email)) || strings.Contains(strings.ToLower(query), strings.ToLower(email))
		for _, id := range ids {
			hit = hit || strings.Contains(q.Path, id)
		}
		if hit {
			fmt.Fprintf(&b, "    %s\n", describe(q))
		}
	}
	return b.String()
}

func describe(q emulator.Request) string {
	replica := "?"
	if m := replicaInUA.FindStringSubmatch(q.Header.Get("User-Agent")); m != nil {
		replica = m[1]
	}
	return fmt.Sprintf("%s %s %s -> %d (%s)", q.Time.Format(time.StampMilli), q.Method, q.Path, q.Status, replica)
}
