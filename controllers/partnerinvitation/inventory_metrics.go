package partnerinvitation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// Label values of partner_operator_invitations{state}: status.state, or what stands in for it.
const (
	stateNotInvited  = "NotInvited"  // no guest yet (status.userID empty)
	stateNotReported = "NotReported" // a guest for which Graph reports no redemption state
)

var inventoryStates = []string{stateNotInvited, string(b2bv1alpha1.StatePendingAcceptance), string(b2bv1alpha1.StateAccepted), stateNotReported}

// Label values of partner_operator_lifecycle_invitations{rule, state}: the lifecycle rules
// (a policy's inactivity and recertification), and where an object stands with one.
const (
	lifecycleWarning = "Warning" // Expired is ExpiringSoon and the rule sets status.expiresAt
	lifecycleActed   = "Acted"   // status.expiry records the action the rule's limit led to
)

var (
	lifecycleRules  = []b2bv1alpha1.ExpiryRule{b2bv1alpha1.RuleInactivity, b2bv1alpha1.RuleRecertification}
	lifecycleStates = []string{lifecycleWarning, lifecycleActed}
)

// readyReasons are the API's condition reasons (TestReadyReasonsAreTheAPIs keeps the list
// complete); any other value is exported as "Other", so the reason label stays bounded
// whatever a status holds.
var readyReasons = map[string]bool{}

func init() {
	for _, r := range []string{
		b2bv1alpha1.ReasonAccepted, b2bv1alpha1.ReasonAutomaticRedemption, b2bv1alpha1.ReasonAccessPending, b2bv1alpha1.ReasonAccessRevoked,
		b2bv1alpha1.ReasonAccountDisabled, b2bv1alpha1.ReasonAdopted, b2bv1alpha1.ReasonAdoptionDenied,
		b2bv1alpha1.ReasonAmbiguousGroup, b2bv1alpha1.ReasonAppNotFound, b2bv1alpha1.ReasonAwaitingGraph,
		b2bv1alpha1.ReasonConflict, b2bv1alpha1.ReasonDeleting, b2bv1alpha1.ReasonExpired,
		b2bv1alpha1.ReasonExpiringSoon, b2bv1alpha1.ReasonExpiryActionPending, b2bv1alpha1.ReasonExpiryScheduled,
		b2bv1alpha1.ReasonGranted, b2bv1alpha1.ReasonGraphError, b2bv1alpha1.ReasonGroupNotFound,
		b2bv1alpha1.ReasonGuestDeleted, b2bv1alpha1.ReasonHandedOver, b2bv1alpha1.ReasonInSync,
		b2bv1alpha1.ReasonInvalidSpec, b2bv1alpha1.ReasonInvitationSent, b2bv1alpha1.ReasonKubernetesError,
		b2bv1alpha1.ReasonNotInvited, b2bv1alpha1.ReasonNotReported, b2bv1alpha1.ReasonPendingAcceptance,
		b2bv1alpha1.ReasonPermissionDenied, b2bv1alpha1.ReasonPolicyDenied, b2bv1alpha1.ReasonPromotionDenied,
		b2bv1alpha1.ReasonReinvited, b2bv1alpha1.ReasonResetDenied, b2bv1alpha1.ReasonRoleNotFound,
		b2bv1alpha1.ReasonSecretConflict, b2bv1alpha1.ReasonSponsorNotFound, b2bv1alpha1.ReasonSponsorNotMember,
		b2bv1alpha1.ReasonThrottled, b2bv1alpha1.ReasonReclaimed, b2bv1alpha1.ReasonRestored, b2bv1alpha1.ReasonDeletionHeld,
	} {
		readyReasons[r] = true
	}
}

// Reasons of partner_operator_invitations_not_ready for objects without a Ready condition
// (not reconciled yet) and with one this version does not know.
const (
	reasonNotReconciled = "NotReconciled"
	reasonOther         = "Other"
)

// InventoryCollector exports, at scrape time, gauges computed from the manager's cache: how
// many PartnerInvitations are in each state, how many are not Ready by reason and for how long,
// and the age of the oldest pending invitation. Only the leader exports them (a standby's
// cache holds the same objects), so sums over replicas count each object once.
type InventoryCollector struct {
	// Walk calls fn with each cached PartnerInvitation, which fn must not change. A scrape
	// costs no API server request, and with WalkInformer no copy of the objects either.
	Walk func(ctx context.Context, fn func(*b2bv1alpha1.PartnerInvitation)) error
	// Elected is closed once this replica leads (at start without leader election).
	Elected <-chan struct{}
	Clock   clock.PassiveClock
	Log     logr.Logger

	invitations, notReady, notReadyLongest, pendingOldest, lifecycle *prometheus.Desc
}

// WalkList walks what a List from reader returns.
func WalkList(reader client.Reader) func(context.Context, func(*b2bv1alpha1.PartnerInvitation)) error {
	return func(ctx context.Context, fn func(*b2bv1alpha1.PartnerInvitation)) error {
		var list b2bv1alpha1.PartnerInvitationList
		if err := reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			return err
		}
		for i := range list.Items {
			fn(&list.Items[i])
		}
		return nil
	}
}

// WalkInformer walks the informer's store in place: at 10,000 objects a List, even without
// deep copies, allocates megabytes on every scrape.
func WalkInformer(informers crcache.Informers) func(context.Context, func(*b2bv1alpha1.PartnerInvitation)) error {
	return func(ctx context.Context, fn func(*b2bv1alpha1.PartnerInvitation)) error {
		inf, err := informers.GetInformer(ctx, &b2bv1alpha1.PartnerInvitation{})
		if err != nil {
			return err
		}
		store, ok := inf.(toolscache.SharedIndexInformer)
		if !ok {
			return fmt.Errorf("the PartnerInvitation informer is a %T, not a SharedIndexInformer", inf)
		}
		for _, o := range store.GetStore().List() {
			if pinv, ok := o.(*b2bv1alpha1.PartnerInvitation); ok {
				fn(pinv)
			}
		}
		return nil
	}
}

// NewInventoryCollector returns the collector; register it with RegisterInventory.
func NewInventoryCollector(walk func(context.Context, func(*b2bv1alpha1.PartnerInvitation)) error, elected <-chan struct{}, clk clock.PassiveClock, log logr.Logger) *InventoryCollector {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &InventoryCollector{
		Walk: walk, Elected: elected, Clock: clk, Log: log,
		invitations: prometheus.NewDesc("partner_operator_invitations",
			"PartnerInvitations by redemption state: NotInvited, PendingAcceptance, Accepted, or NotReported (Graph reports none).",
			[]string{"state"}, nil),
		notReady: prometheus.NewDesc("partner_operator_invitations_not_ready",
			"PartnerInvitations whose Ready condition is not True, by its reason (NotReconciled without one); paused objects are left out.",
			[]string{"reason"}, nil),
		notReadyLongest: prometheus.NewDesc("partner_operator_invitations_not_ready_longest_seconds",
			"How long the PartnerInvitation not Ready the longest has been so (since Ready's last transition, or its creation), by reason.",
			[]string{"reason"}, nil),
		pendingOldest: prometheus.NewDesc("partner_operator_invitations_pending_oldest_seconds",
			"Age of the oldest invitation still PendingAcceptance, since it was last sent; 0 when none is pending.",
			nil, nil),
		lifecycle: prometheus.NewDesc("partner_operator_lifecycle_invitations",
			"PartnerInvitations a lifecycle rule (Inactivity, Recertification) ends: in the warning window (Warning) or with the expiry action taken (Acted).",
			[]string{"rule", "state"}, nil),
	}
}

// RegisterInventory registers c, replacing a collector of the same metrics that an earlier
// manager in this process registered (its cache may be gone).
func RegisterInventory(reg prometheus.Registerer, c *InventoryCollector) error {
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		reg.Unregister(already.ExistingCollector)
		err = reg.Register(c)
	}
	return err
}

func (c *InventoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.invitations
	ch <- c.notReady
	ch <- c.notReadyLongest
	ch <- c.pendingOldest
	ch <- c.lifecycle
}

func (c *InventoryCollector) Collect(ch chan<- prometheus.Metric) {
	select {
	case <-c.Elected:
	default:
		return // a standby, or not started yet
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := c.Clock.Now()
	states := map[string]int{}
	notReady := map[string]int{}
	longest := map[string]time.Duration{}
	lifecycle := map[[2]string]int{}
	var oldestPending time.Duration
	err := c.Walk(ctx, func(pinv *b2bv1alpha1.PartnerInvitation) {
		states[inventoryState(pinv)]++
		if rule, state := lifecycleState(pinv); state != "" {
			lifecycle[[2]string{string(rule), state}]++
		}
		if pinv.Status.State == b2bv1alpha1.StatePendingAcceptance && pinv.Status.UserID != "" {
			sent := lastSent(pinv)
			if sent.IsZero() {
				sent = pinv.CreationTimestamp.Time // an adopted guest still pending
			}
			oldestPending = max(oldestPending, now.Sub(sent))
		}
		if pinv.Annotations[b2bv1alpha1.AnnotationPaused] == "true" {
			return
		}
		ready := meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionReady)
		if ready != nil && ready.Status == metav1.ConditionTrue {
			return
		}
		reason, since := reasonNotReconciled, pinv.CreationTimestamp.Time
		if ready != nil {
			reason, since = ready.Reason, ready.LastTransitionTime.Time
			if !readyReasons[reason] {
				reason = reasonOther
			}
		}
		notReady[reason]++
		longest[reason] = max(longest[reason], now.Sub(since))
	})
	if err != nil {
		c.Log.Error(err, "cannot read the cached PartnerInvitations for the inventory metrics")
		return
	}
	for _, s := range inventoryStates {
		ch <- prometheus.MustNewConstMetric(c.invitations, prometheus.GaugeValue, float64(states[s]), s)
	}
	for reason, n := range notReady {
		ch <- prometheus.MustNewConstMetric(c.notReady, prometheus.GaugeValue, float64(n), reason)
		ch <- prometheus.MustNewConstMetric(c.notReadyLongest, prometheus.GaugeValue, max(longest[reason], 0).Seconds(), reason)
	}
	ch <- prometheus.MustNewConstMetric(c.pendingOldest, prometheus.GaugeValue, max(oldestPending, 0).Seconds())
	for _, r := range lifecycleRules {
		for _, st := range lifecycleStates {
			ch <- prometheus.MustNewConstMetric(c.lifecycle, prometheus.GaugeValue, float64(lifecycle[[2]string{string(r), st}]), string(r), st)
		}
	}
}

// lifecycleState says where pinv stands with the lifecycle rule that ends its access: Acted
// once status.expiry records an action for that rule, Warning while Expired is ExpiringSoon
// for the rule that sets status.expiresAt; "" otherwise (other rules included, which the
// collector does not export).
func lifecycleState(pinv *b2bv1alpha1.PartnerInvitation) (b2bv1alpha1.ExpiryRule, string) {
	if e := pinv.Status.Expiry; e != nil {
		return e.Rule, lifecycleActed
	}
	if c := meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionExpired); c != nil && c.Reason == b2bv1alpha1.ReasonExpiringSoon {
		return pinv.Status.ExpiryRule, lifecycleWarning
	}
	return "", ""
}

func inventoryState(pinv *b2bv1alpha1.PartnerInvitation) string {
	switch {
	case pinv.Status.UserID == "":
		return stateNotInvited
	case pinv.Status.State == b2bv1alpha1.StatePendingAcceptance, pinv.Status.State == b2bv1alpha1.StateAccepted:
		return string(pinv.Status.State)
	default:
		return stateNotReported
	}
}
