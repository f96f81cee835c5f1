package main

import (
	"fmt"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// clusterClient connects to the cluster the kubectl flags name. Its scheme knows only this
// operator's API, Leases (the deletion brake's), Secrets (a tenant object's credential) and
// SelfSubjectReviews (who recertifies), which is all the plugin reads and writes. qps > 0
// raises client-go's default of 5 requests a second: a dry run of a large file sends one
// create per row.
func clusterClient(p *plugin, qps float32) (client.Client, error) {
	cfg, err := p.kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if qps > 0 {
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = qps, int(2*qps)
	}
	scheme := runtime.NewScheme()
	if err := b2bv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := coordinationv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	// Secrets: export --tenant reads the tenant object's credential.
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	// SelfSubjectReviews: recertify records who the caller is.
	if err := authenticationv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to the cluster: %w", err)
	}
	return c, nil
}

// namespace is the namespace kubectl would use: -n, else the kubeconfig context's, else
// "default" (also when there is no kubeconfig at all, so export works without a cluster).
func namespace(p *plugin) (string, error) {
	ns, _, err := p.kube.ToRawKubeConfigLoader().Namespace()
	if clientcmd.IsEmptyConfig(err) {
		return "default", nil
	}
	if err != nil {
		return "", fmt.Errorf("namespace from the kubeconfig: %w", err)
	}
	return ns, nil
}

// parseTenantFlag reads --tenant KIND/NAME.
func parseTenantFlag(v string) (*b2bv1alpha1.TenantReference, error) {
	kind, name, ok := strings.Cut(v, "/")
	if !ok || name == "" || (kind != b2bv1alpha1.KindGraphTenant && kind != b2bv1alpha1.KindClusterGraphTenant) {
		return nil, fmt.Errorf("--tenant %q: want ClusterGraphTenant/NAME or GraphTenant/NAME", v)
	}
	return &b2bv1alpha1.TenantReference{Kind: kind, Name: name}, nil
}
