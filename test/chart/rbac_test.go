package chart_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/partnerops/partner-operator/internal/testbed"
)

// A grant, flattened: one (apiGroup, resource, verb) of a role, with the role's scope. Roles
// are named without their install's prefix, so that the chart's and config/default's compare.
type grant struct {
	Role, Scope, APIGroup, Resource, ResourceName, Verb string
}

func (g grant) String() string {
	res := g.Resource
	if g.ResourceName != "" {
		res += "/" + g.ResourceName
	}
	return fmt.Sprintf("%s (%s): %s %q %s", g.Role, g.Scope, g.Verb, g.APIGroup, res)
}

// A binding, flattened: which role it grants, where, and to whom ("operator" is the operator's
// own ServiceAccount).
type binding struct {
	Kind, RoleKind, Role, Subject string
}

// rbacOf flattens the Roles, ClusterRoles and their bindings of an install. prefix is what the
// install puts before every role name; rename maps the rest to a common name; operatorNS and
// operatorSA name the operator's ServiceAccount. A Role outside operatorNS is a scope of its own.
func rbacOf(t *testing.T, objs []*unstructured.Unstructured, prefix string, rename map[string]string, operatorNS, operatorSA string) (map[grant]bool, map[binding]bool) {
	t.Helper()
	name := func(n string) string {
		n = strings.TrimPrefix(n, prefix)
		if r, ok := rename[n]; ok {
			return r
		}
		return n
	}
	scope := func(ns string) string {
		switch ns {
		case "":
			return "cluster"
		case operatorNS:
			return "operator namespace"
		}
		return "namespace " + ns
	}
	grants, bindings := map[grant]bool{}, map[binding]bool{}
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole", "Role":
			role := convert[rbacv1.ClusterRole](t, o)
			r := name(o.GetName())
			// Aggregation labels decide who else gets the rules: they count as grants.
			for k, v := range o.GetLabels() {
				if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") && v == "true" {
					grants[grant{Role: r, Scope: scope(o.GetNamespace()), Resource: "label " + k}] = true
				}
			}
			if role.AggregationRule != nil {
				t.Errorf("%s %s aggregates other roles: compare its selectors too", o.GetKind(), o.GetName())
			}
			for _, rule := range role.Rules {
				names := rule.ResourceNames
				if len(names) == 0 {
					names = []string{""}
				}
				for _, verb := range rule.Verbs {
					for _, url := range rule.NonResourceURLs {
						grants[grant{Role: r, Scope: scope(o.GetNamespace()), Resource: "nonResourceURL " + url, Verb: verb}] = true
					}
					for _, group := range rule.APIGroups {
						for _, res := range rule.Resources {
							for _, rn := range names {
								grants[grant{Role: r, Scope: scope(o.GetNamespace()), APIGroup: group, Resource: res, ResourceName: rn, Verb: verb}] = true
							}
						}
					}
				}
			}
		case "ClusterRoleBinding", "RoleBinding":
			b := convert[rbacv1.RoleBinding](t, o)
			for _, s := range b.Subjects {
				subject := s.Kind + " " + s.Namespace + "/" + s.Name
				if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == operatorNS && s.Name == operatorSA {
					subject = "operator"
				}
				bindings[binding{Kind: o.GetKind() + " in " + scope(o.GetNamespace()), RoleKind: b.RoleRef.Kind, Role: name(b.RoleRef.Name), Subject: subject}] = true
			}
		}
	}
	return grants, bindings
}

func diff[K comparable](got, want map[K]bool) (added, missing []string) {
	for k := range got {
		if !want[k] {
			added = append(added, fmt.Sprint(k))
		}
	}
	for k := range want {
		if !got[k] {
			missing = append(missing, fmt.Sprint(k))
		}
	}
	slices.Sort(added)
	slices.Sort(missing)
	return added, missing
}

// config/default names its objects partner-operator-<name> (namePrefix); the generated
// ClusterRole and Role are "partner-operator" there and <fullname>-manager in the chart.
var configRename = map[string]string{"partner-operator": "manager"}

// TestRBACAsConfigDefault: the chart grants exactly the rules config/default grants, in the
// same roles, at the same scope, bound to the same subjects. No rule added or missing.
func TestRBACAsConfigDefault(t *testing.T) {
	config := kustomize(t, filepath.Join(repoRoot, "config", "default"))
	wantGrants, wantBindings := rbacOf(t, config, "partner-operator-", configRename, testbed.OperatorNamespace, testbed.OperatorServiceAccount)
	if len(wantGrants) == 0 || len(wantBindings) == 0 {
		t.Fatal("config/default renders no RBAC")
	}
	// config/default with the opt-in component, for rbac.aggregateToEdit.
	aggregated := kustomize(t, aggregateToEditKustomization(t))
	wantAggregated, _ := rbacOf(t, aggregated, "partner-operator-", configRename, testbed.OperatorNamespace, testbed.OperatorServiceAccount)

	for _, tc := range []struct {
		name, rel, ns string
		args          []string
		grants        map[grant]bool
		extraBindings map[binding]bool
	}{
		{name: "defaults", rel: release, ns: namespace, grants: wantGrants},
		{name: "other release and namespace", rel: "b2b", ns: "identity", grants: wantGrants},
		{name: "all values", rel: release, ns: "ops", args: []string{"--values", allValues}, grants: wantAggregated,
			// metrics.serviceMonitor: config/prometheus's binding, to the Prometheus named in the values.
			extraBindings: map[binding]bool{{Kind: "ClusterRoleBinding in cluster", RoleKind: "ClusterRole", Role: "metrics-reader",
				Subject: "ServiceAccount monitoring/kube-prometheus-stack-prometheus"}: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.rel, tc.ns, tc.args...)
			d := deployment(t, objs)
			fullname := d.Name // the Deployment is named <fullname>
			grants, bindings := rbacOf(t, objs, fullname+"-", nil, tc.ns, d.Spec.Template.Spec.ServiceAccountName)
			added, missing := diff(grants, tc.grants)
			for _, g := range added {
				t.Errorf("the chart grants what config/default does not: %s", g)
			}
			for _, g := range missing {
				t.Errorf("the chart lacks a grant of config/default: %s", g)
			}
			want := map[binding]bool{}
			for b := range wantBindings {
				want[b] = true
			}
			for b := range tc.extraBindings {
				want[b] = true
			}
			added, missing = diff(bindings, want)
			for _, b := range added {
				t.Errorf("the chart binds what config/default does not: %s", b)
			}
			for _, b := range missing {
				t.Errorf("the chart lacks a binding of config/default: %s", b)
			}
		})
	}
}

// aggregateToEditKustomization writes a kustomization of config/default with the component
// config/rbac/aggregate-to-edit, as its comments tell users to opt in.
func aggregateToEditKustomization(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	// kustomize takes bases by relative path only.
	config, err := filepath.Rel(dir, filepath.Join(repoRoot, "config"))
	if err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf("resources:\n- %s\ncomponents:\n- %s\n", filepath.ToSlash(filepath.Join(config, "default")), filepath.ToSlash(filepath.Join(config, "rbac", "aggregate-to-edit")))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
