package partnerinvitation

import (
	"encoding/json"
	"path/filepath"
	"testing"

	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// healthLuaPath is the Argo CD health check, relative to this package's directory.
var healthLuaPath = filepath.Join("..", "..", "config", "argocd", "health.lua")

// toUnstructured converts pinv as the API server would serve it, with apiVersion and kind set.
func toUnstructured(t *testing.T, pinv *b2bv1alpha1.PartnerInvitation) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pinv)
	if err != nil {
		t.Fatalf("converting to unstructured: %v", err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(b2bv1alpha1.GroupVersion.String())
	u.SetKind("PartnerInvitation")
	return u
}

// kstatusOf is the verdict of kstatus (kpt, Config Sync, Flux health checks) for pinv.
func kstatusOf(t *testing.T, pinv *b2bv1alpha1.PartnerInvitation) status.Status {
	t.Helper()
	res, err := status.Compute(toUnstructured(t, pinv))
	if err != nil {
		t.Fatalf("kstatus: %v", err)
	}
	return res.Status
}

// argoHealthOf runs config/argocd/health.lua the way Argo CD does: the object, converted via
// JSON into nested Lua tables, is the global obj; the script returns {status, message}.
func argoHealthOf(t *testing.T, pinv *b2bv1alpha1.PartnerInvitation) (health, message string) {
	t.Helper()
	data, err := toUnstructured(t, pinv).MarshalJSON()
	if err != nil {
		t.Fatalf("marshalling object: %v", err)
	}
	var obj any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatalf("unmarshalling object: %v", err)
	}
	l := lua.NewState()
	defer l.Close()
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoFile(healthLuaPath); err != nil {
		t.Fatalf("running %s: %v", healthLuaPath, err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("%s returned %s, want a table", healthLuaPath, l.Get(-1).Type())
	}
	health, message = lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message"))
	switch health {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
	default:
		t.Fatalf("%s returned status %q, which Argo CD rejects", healthLuaPath, health)
	}
	return health, message
}

// toLua converts a value decoded from JSON; arrays become 1-based tables, null becomes nil.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	case []any:
		t := l.NewTable()
		for _, e := range v {
			t.Append(toLua(l, e))
		}
		return t
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	default:
		return lua.LNil
	}
}

func TestHealthVerdictHelpers(t *testing.T) {
	cond := func(typ string, s metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: typ + " " + reason,
			ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(testNow)}
	}
	withStatus := func(observed int64, conds ...metav1.Condition) func(*b2bv1alpha1.PartnerInvitation) {
		return func(p *b2bv1alpha1.PartnerInvitation) {
			p.Status.ObservedGeneration = observed
			p.Status.Conditions = conds
		}
	}
	ready := cond(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
	tests := []struct {
		name    string
		pinv    *b2bv1alpha1.PartnerInvitation
		kstatus status.Status
		argo    string
	}{
		// kstatus falls through to Current when a custom resource has no status at all
		// (kubernetes-sigs/cli-utils#632); only health.lua can tell "not reconciled yet".
		{"no status", invitation(), status.CurrentStatus, "Progressing"},
		{"generation not observed", invitation(func(p *b2bv1alpha1.PartnerInvitation) { p.Generation = 2 }, withStatus(1, ready)),
			status.InProgressStatus, "Progressing"},
		{"ready", invitation(withStatus(1, ready)), status.CurrentStatus, "Healthy"},
		{"stalled", invitation(withStatus(1,
			cond(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonInvalidSpec),
			cond(b2bv1alpha1.ConditionStalled, metav1.ConditionTrue, b2bv1alpha1.ReasonInvalidSpec))),
			status.FailedStatus, "Degraded"},
		{"throttled", invitation(withStatus(1, cond(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonThrottled))),
			status.InProgressStatus, "Progressing"},
		{"reconciling", invitation(withStatus(1, ready, cond("Reconciling", metav1.ConditionTrue, "Progressing"))),
			status.InProgressStatus, "Progressing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kstatusOf(t, tt.pinv); got != tt.kstatus {
				t.Errorf("kstatus = %s, want %s", got, tt.kstatus)
			}
			if got, msg := argoHealthOf(t, tt.pinv); got != tt.argo {
				t.Errorf("Argo CD health = %s (%q), want %s", got, msg, tt.argo)
			}
		})
	}
}
