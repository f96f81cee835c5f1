// Package e2e runs the operator binary as a process against a real kube-apiserver and etcd
// (envtest) and the Graph emulator, and kills it with SIGKILL at the moment that matters for
// "invite once": Graph has created the invitation, the operator has not heard the answer.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/test/internal/operatorproc"
)

// invitationLedger counts the invitations Graph carried out (re-invitations that recover a
// URL included); the kills are timed by it.
type invitationLedger struct{ total atomic.Int64 }

// add records one invitation and returns how many there have been in all.
func (l *invitationLedger) add(string) int { return int(l.total.Add(1)) }

func (l *invitationLedger) sum() int { return int(l.total.Load()) }

type harness struct {
	ctx    context.Context
	k8s    client.Client
	emu    *emulator.Emulator
	env    *operatorproc.Environment
	ledger *invitationLedger
}

func TestOperatorKilled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := filepath.Join("..", "..")
	cp := operatorproc.StartControlPlane(t, root)
	emu := operatorproc.StartEmulator(t, emulator.Options{RequireAuth: true})
	dir := t.TempDir()
	bin := operatorproc.Build(t, root, dir)
	h := &harness{ctx: ctx, k8s: cp.Client, emu: emu, env: operatorproc.NewEnvironment(t, bin, dir, cp.Env, emu),
		ledger: &invitationLedger{}}
	defer func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			for _, l := range logs {
				raw, _ := os.ReadFile(l)
				t.Logf("%s (last 4 KiB):\n%s", filepath.Base(l), tail(raw, 4096))
			}
		}
	}()

	operatorproc.AllowInvitations(t, ctx, cp.Client)
	t.Run("between Graph's answer and the Secret write", h.killedBeforeStatusWrite)
	t.Run("with a burst of invitations in flight", h.killedMidBurst)
}

// killedBeforeStatusWrite kills the operator while Graph's answer to its invitation is on the
// way, so the redemption URL never reaches the Secret, then starts a new one: the guest is
// found again, not invited twice, and a working URL is recovered without a second mail.
func (h *harness) killedBeforeStatusWrite(t *testing.T) {
	ns := h.namespace(t, "crash-one")
	email := "carla@crash.example"
	var first atomic.Pointer[operatorproc.Process]
	h.emu.SetInvitationHook(func(invited, _ string) {
		h.ledger.add(invited)
		if strings.EqualFold(invited, email) {
			first.Load().Kill()
		}
	})
	defer h.emu.SetInvitationHook(nil)
	first.Store(h.env.Start(t, h.ctx, "operator-1.log"))
	h.create(t, ns, "carla", email)

	waitUntil(t, "the operator to be killed", 60*time.Second, func() bool { return first.Load().Exited() })
	p := h.get(t, ns, "carla")
	if p.Status.UserID != "" {
		t.Fatalf("the operator recorded guest %s before it died; the kill came too late to test anything", p.Status.UserID)
	}

	second := h.env.Start(t, h.ctx, "operator-2.log")
	defer second.Stop()
	p = h.waitReady(t, ns, "carla")
	guest := h.guest(t, email)
	if p.Status.UserID != guest.ID {
		t.Errorf("status.userID = %q, want the guest Graph created, %q", p.Status.UserID, guest.ID)
	}
	if p.Status.Adopted {
		t.Error("status.adopted = true; the guest is the operator's own invitation, found again")
	}
	if n := h.emu.MailsSent(email); n != 1 {
		t.Errorf("%d invitation mails sent to %s, want 1", n, email)
	}
	h.expectWorkingURL(t, ns, "carla", guest.ID)
}

// expectWorkingURL redeems the URL the object's Secret holds, as the partner would.
func (h *harness) expectWorkingURL(t *testing.T, ns, name, guestID string) {
	t.Helper()
	secret := &corev1.Secret{}
	if err := h.k8s.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: name + "-invitation"}, secret); err != nil {
		t.Fatalf("the redemption Secret: %v", err)
	}
	url := string(secret.Data["redeemURL"])
	if url == "" {
		t.Fatalf("Secret %s/%s-invitation holds no redemption URL", ns, name)
	}
	redeemed, err := h.emu.Redeem(url)
	if err != nil || redeemed != guestID {
		t.Errorf("the stored URL does not redeem guest %s: user %q, %v", guestID, redeemed, err)
	}
}

// killedMidBurst kills the operator while a burst of invitations is in flight, with Graph
// slow to show new guests, then starts a new one: every partner gets exactly one invitation.
// Some objects were marked but their invitation never left the process; the new one cannot
// tell them from guests Graph does not list yet, so it invites them after the grace period.
func (h *harness) killedMidBurst(t *testing.T) {
	const n, killAt, burstGrace = 40, 15, 10 * time.Second
	ns := h.namespace(t, "crash-burst")
	h.emu.SetLatency(100 * time.Millisecond)
	h.emu.SetVisibilityDelay(2 * time.Second)
	defer h.emu.SetLatency(0)
	defer h.emu.SetVisibilityDelay(0)
	var first atomic.Pointer[operatorproc.Process]
	start := h.ledger.sum()
	var once sync.Once
	h.emu.SetInvitationHook(func(invited, _ string) {
		if h.ledger.add(invited)-start >= killAt {
			// Answers to the invitations in flight with this one are lost too.
			once.Do(func() { first.Load().Kill() })
		}
	})
	defer h.emu.SetInvitationHook(nil)
	first.Store(h.env.Start(t, h.ctx, "operator-3.log"))
	for i := range n {
		h.create(t, ns, fmt.Sprintf("partner-%02d", i), fmt.Sprintf("partner-%02d@burst.example", i))
	}
	waitUntil(t, "the operator to be killed", 120*time.Second, func() bool { return first.Load().Exited() })

	second := h.env.Start(t, h.ctx, "operator-4.log", "--create-grace-period", burstGrace.String())
	defer second.Stop()
	for i := range n {
		name, email := fmt.Sprintf("partner-%02d", i), fmt.Sprintf("partner-%02d@burst.example", i)
		p := h.waitReady(t, ns, name)
		if guest := h.guest(t, email); p.Status.UserID != guest.ID {
			t.Errorf("%s: status.userID = %q, want %q", name, p.Status.UserID, guest.ID)
		}
		if c := h.emu.MailsSent(email); c != 1 {
			t.Errorf("%d invitation mails sent to %s, want 1", c, email)
		}
		if guests := h.guests(email); guests != 1 {
			t.Errorf("%d guests for %s, want 1", guests, email)
		}
		h.expectWorkingURL(t, ns, name, p.Status.UserID)
	}
}

func (h *harness) namespace(t *testing.T, name string) string {
	t.Helper()
	if err := h.k8s.Create(h.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}

func (h *harness) create(t *testing.T, ns, name, email string) {
	t.Helper()
	p := &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: email},
	}
	if err := h.k8s.Create(h.ctx, p); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) get(t *testing.T, ns, name string) *b2bv1alpha1.PartnerInvitation {
	t.Helper()
	p := &b2bv1alpha1.PartnerInvitation{}
	if err := h.k8s.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (h *harness) waitReady(t *testing.T, ns, name string) *b2bv1alpha1.PartnerInvitation {
	t.Helper()
	var p *b2bv1alpha1.PartnerInvitation
	waitUntil(t, ns+"/"+name+" to be Ready", 120*time.Second, func() bool {
		p = h.get(t, ns, name)
		return meta.IsStatusConditionTrue(p.Status.Conditions, b2bv1alpha1.ConditionReady)
	})
	return p
}

func (h *harness) guest(t *testing.T, email string) emulator.User {
	t.Helper()
	for _, u := range h.emu.Users() {
		if strings.EqualFold(u.Mail, email) {
			return u
		}
	}
	t.Fatalf("no guest with mail %s in the directory", email)
	return emulator.User{}
}

func (h *harness) guests(email string) int {
	n := 0
	for _, u := range h.emu.Users() {
		if strings.EqualFold(u.Mail, email) {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, what string, timeout time.Duration, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
