// Package tenant resolves a tenant reference to its object, its cloud and its credentials: the
// one place that decides which directory an invitation's guest lives in and with what secret
// the operator signs in to it (cert-manager's issuer lookup). It reads Kubernetes only; the
// Graph connection is built by the caller.
package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// Ref names a tenant object. The zero Ref is the default tenant, the one the operator's flags
// configure.
type Ref struct {
	Kind string
	// Namespace is a GraphTenant's, "" for a ClusterGraphTenant.
	Namespace string
	Name      string
}

// IsDefault reports whether r is the flags' tenant.
func (r Ref) IsDefault() bool { return r == Ref{} }

func (r Ref) String() string {
	switch {
	case r.IsDefault():
		return "the default tenant"
	case r.Kind == b2bv1alpha1.KindGraphTenant:
		return fmt.Sprintf("GraphTenant %s/%s", r.Namespace, r.Name)
	default:
		return fmt.Sprintf("%s %s", r.Kind, r.Name)
	}
}

// Key is r as one string, for indexes and log fields: "" for the default tenant.
func (r Ref) Key() string {
	if r.IsDefault() {
		return ""
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Label is r as a metrics label value: "default", "ClusterGraphTenant/NAME" or
// "GraphTenant/NAMESPACE/NAME".
func (r Ref) Label() string {
	switch {
	case r.IsDefault():
		return "default"
	case r.Namespace == "":
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// RefOf is the tenant an invitation uses. A GraphTenant is always the invitation's own
// namespace's: a reference cannot reach into another namespace.
func RefOf(pinv *b2bv1alpha1.PartnerInvitation) Ref {
	return RefIn(pinv.Namespace, pinv.Spec.TenantRef)
}

// RefIn is the tenant a reference written in namespace names (nil: the default tenant).
func RefIn(namespace string, t *b2bv1alpha1.TenantReference) Ref {
	if t == nil {
		return Ref{}
	}
	if t.Kind == b2bv1alpha1.KindClusterGraphTenant {
		return Ref{Kind: t.Kind, Name: t.Name}
	}
	return Ref{Kind: b2bv1alpha1.KindGraphTenant, Namespace: namespace, Name: t.Name}
}

// RefTo is the Ref of a tenant object.
func RefTo(obj b2bv1alpha1.TenantObject) Ref {
	return Ref{Kind: obj.TenantKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// Get reads the tenant object r names.
func Get(ctx context.Context, c client.Reader, r Ref) (b2bv1alpha1.TenantObject, error) {
	var obj b2bv1alpha1.TenantObject
	switch r.Kind {
	case b2bv1alpha1.KindGraphTenant:
		obj = &b2bv1alpha1.GraphTenant{}
	case b2bv1alpha1.KindClusterGraphTenant:
		obj = &b2bv1alpha1.ClusterGraphTenant{}
	default:
		return nil, fmt.Errorf("tenant kind %q is neither GraphTenant nor ClusterGraphTenant", r.Kind)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// Endpoints are where one cloud's tenants sign in and call Graph.
type Endpoints struct {
	// AuthorityHost is Entra ID's, e.g. https://login.microsoftonline.com/.
	AuthorityHost string
	// GraphEndpoint is Graph's base URL without /v1.0.
	GraphEndpoint string
	// CAFile is a PEM CA to trust for both, besides the system's (a private endpoint, the
	// emulator); empty for the public clouds.
	CAFile string
}

// Scope is the token scope for the cloud's Graph: its endpoint's /.default.
func (e Endpoints) Scope() string { return strings.TrimSuffix(e.GraphEndpoint, "/") + "/.default" }

// Clouds are the national clouds Microsoft documents (Graph's "National cloud deployments").
var builtinClouds = map[b2bv1alpha1.Cloud]Endpoints{
	b2bv1alpha1.CloudAzurePublic:       {AuthorityHost: "https://login.microsoftonline.com/", GraphEndpoint: "https://graph.microsoft.com"},
	b2bv1alpha1.CloudAzureUSGovernment: {AuthorityHost: "https://login.microsoftonline.us/", GraphEndpoint: "https://graph.microsoft.us"},
	b2bv1alpha1.CloudAzureChina:        {AuthorityHost: "https://login.chinacloudapi.cn/", GraphEndpoint: "https://microsoftgraph.chinacloudapi.cn"},
}

// Clouds maps cloud names to their endpoints: the built-in ones and those the operator's
// --cloud flag adds. Only the cluster owner, through the operator's flags, decides where
// tokens and requests go; a tenant object only picks a name.
type Clouds map[b2bv1alpha1.Cloud]Endpoints

// NewClouds returns the built-in clouds with extra ones added (an extra may not replace a
// built-in: a tenant object that says AzurePublic always means Microsoft's).
func NewClouds(extra map[b2bv1alpha1.Cloud]Endpoints) (Clouds, error) {
	c := Clouds{}
	for k, v := range builtinClouds {
		c[k] = v
	}
	for k, v := range extra {
		if _, ok := builtinClouds[k]; ok {
			return nil, fmt.Errorf("cloud %s is built in and cannot be redefined", k)
		}
		c[k] = v
	}
	return c, nil
}

// ParseCloud reads the --cloud flag's value: NAME=AUTHORITY_HOST,GRAPH_ENDPOINT[,CA_FILE].
func ParseCloud(v string) (b2bv1alpha1.Cloud, Endpoints, error) {
	name, rest, ok := strings.Cut(v, "=")
	parts := strings.Split(rest, ",")
	if !ok || name == "" || len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return "", Endpoints{}, fmt.Errorf("--cloud %q: want NAME=AUTHORITY_HOST,GRAPH_ENDPOINT[,CA_FILE]", v)
	}
	e := Endpoints{AuthorityHost: parts[0], GraphEndpoint: parts[1]}
	if len(parts) == 3 {
		e.CAFile = parts[2]
	}
	return b2bv1alpha1.Cloud(name), e, nil
}

// ParseClouds is NewClouds of --cloud values (ParseCloud's form).
func ParseClouds(values []string) (Clouds, error) {
	extra := map[b2bv1alpha1.Cloud]Endpoints{}
	for _, v := range values {
		name, e, err := ParseCloud(v)
		if err != nil {
			return nil, err
		}
		extra[name] = e
	}
	return NewClouds(extra)
}

// Names lists the clouds, sorted, for messages.
func (c Clouds) Names() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
}

// Credential kinds, as messages and metrics name them.
const (
	CredentialClientSecret     = "client secret"
	CredentialCertificate      = "client certificate"
	CredentialWorkloadIdentity = "workload identity"
	CredentialManagedIdentity  = "managed identity"
)

// Credentials are what one tenant object signs in with, read from where it says.
type Credentials struct {
	Kind     string
	TenantID string
	ClientID string
	// Secret is a client secret; CertificatePEM and KeyPEM a certificate and its key.
	Secret                 string
	CertificatePEM, KeyPEM []byte
	SendCertificateChain   bool
	// TokenFile is workload identity's projected ServiceAccount token.
	TokenFile string
	// Endpoints are the tenant's cloud's.
	Endpoints Endpoints
	// Fingerprint changes whenever anything above does, so a rotated secret makes a new
	// connection; it is a hash, never the secret.
	Fingerprint string
}

// Problem is a tenant object that cannot be used as it stands; Reason is a condition reason.
type Problem struct {
	Reason  string
	Message string
	// Stalled: only a change to the tenant object, its Secret or the operator's flags helps;
	// otherwise the tenant is on its way (being verified, being connected).
	Stalled bool
}

func (p *Problem) Error() string { return p.Message }

// Options are the cluster owner's choices about what tenant objects may ask for.
type Options struct {
	Clouds Clouds
	// OperatorNamespace holds the Secrets of ClusterGraphTenants.
	OperatorNamespace string
	// NamespacedAmbient lets GraphTenants use the operator's own identity (workload or
	// managed identity). Off by default: a namespace editor could otherwise act in a tenant
	// as the operator, with no secret of their own (cert-manager's --issuer-ambient-credentials).
	NamespacedAmbient bool
}

// ReadCredentials reads the tenant object's credentials from the one Secret it names, in its
// own namespace (a GraphTenant) or the operator's (a ClusterGraphTenant): a GraphTenant can
// never reach a Secret of another namespace. Secrets are read one by one, never listed.
func ReadCredentials(ctx context.Context, c client.Reader, obj b2bv1alpha1.TenantObject, opts Options) (*Credentials, error) {
	spec := obj.TenantSpec()
	cloud := spec.Cloud
	if cloud == "" {
		cloud = b2bv1alpha1.CloudAzurePublic
	}
	endpoints, ok := opts.Clouds[cloud]
	if !ok {
		return nil, &Problem{Reason: b2bv1alpha1.ReasonUnknownCloud, Message: fmt.Sprintf(
			"spec.cloud %s is not a cloud this operator knows (%s); the operator's --cloud flag adds others", cloud, strings.Join(opts.Clouds.Names(), ", "))}
	}
	creds := &Credentials{TenantID: spec.TenantID, ClientID: spec.ClientID, Endpoints: endpoints}
	secretNS := obj.GetNamespace()
	if obj.TenantKind() == b2bv1alpha1.KindClusterGraphTenant {
		secretNS = opts.OperatorNamespace
	}
	ambient := spec.Credentials.WorkloadIdentity != nil || spec.Credentials.ManagedIdentity != nil
	if ambient && obj.TenantKind() == b2bv1alpha1.KindGraphTenant && !opts.NamespacedAmbient {
		return nil, &Problem{Reason: b2bv1alpha1.ReasonAmbientNotAllowed, Message: "spec.credentials: workload and managed identity are the operator's own identity, " +
			"which a GraphTenant may use only where the operator runs with --namespaced-tenant-ambient-credentials; use a clientSecret or certificate from this namespace, or a ClusterGraphTenant"}
	}
	var fingerprint []byte
	switch cr := spec.Credentials; {
	case cr.ClientSecret != nil:
		key := cr.ClientSecret.Key
		if key == "" {
			key = "client-secret"
		}
		data, err := secretData(ctx, c, secretNS, cr.ClientSecret.Name, "spec.credentials.clientSecret", key)
		if err != nil {
			return nil, err
		}
		creds.Kind, creds.Secret = CredentialClientSecret, strings.TrimSpace(string(data[key]))
		fingerprint = data[key]
	case cr.Certificate != nil:
		data, err := secretData(ctx, c, secretNS, cr.Certificate.SecretName, "spec.credentials.certificate", corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
		if err != nil {
			return nil, err
		}
		creds.Kind, creds.CertificatePEM, creds.KeyPEM = CredentialCertificate, data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey]
		creds.SendCertificateChain = cr.Certificate.SendCertificateChain
		fingerprint = append(append([]byte{}, creds.CertificatePEM...), creds.KeyPEM...)
	case cr.WorkloadIdentity != nil:
		creds.Kind, creds.TokenFile = CredentialWorkloadIdentity, cr.WorkloadIdentity.TokenFile
		if creds.TokenFile == "" {
			creds.TokenFile = os.Getenv("AZURE_FEDERATED_TOKEN_FILE")
		}
		if creds.TokenFile == "" {
			return nil, &Problem{Reason: b2bv1alpha1.ReasonCredentialsInvalid, Message: "spec.credentials.workloadIdentity: no token file: set tokenFile, " +
				"or run the operator with workload identity (AZURE_FEDERATED_TOKEN_FILE, which AKS's webhook sets)"}
		}
		fingerprint = []byte(creds.TokenFile)
	case cr.ManagedIdentity != nil:
		creds.Kind = CredentialManagedIdentity
	default:
		return nil, &Problem{Reason: b2bv1alpha1.ReasonCredentialsInvalid, Message: "spec.credentials: set one of clientSecret, certificate, workloadIdentity, managedIdentity"}
	}
	sum := sha256.New()
	for _, part := range [][]byte{[]byte(creds.Kind), []byte(creds.TenantID), []byte(creds.ClientID), []byte(cloud), []byte(endpoints.GraphEndpoint), []byte(endpoints.AuthorityHost), fingerprint} {
		sum.Write(part)
		sum.Write([]byte{0})
	}
	creds.Fingerprint = hex.EncodeToString(sum.Sum(nil))
	return creds, nil
}

// secretData reads the Secret and checks that it holds the keys.
func secretData(ctx context.Context, c client.Reader, namespace, name, field string, keys ...string) (map[string][]byte, error) {
	s := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, s)
	switch {
	case apierrors.IsNotFound(err):
		return nil, &Problem{Reason: b2bv1alpha1.ReasonSecretNotFound, Message: fmt.Sprintf("%s: Secret %s/%s not found", field, namespace, name)}
	case err != nil:
		return nil, fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
	}
	for _, k := range keys {
		if len(strings.TrimSpace(string(s.Data[k]))) == 0 {
			return nil, &Problem{Reason: b2bv1alpha1.ReasonSecretNotFound, Message: fmt.Sprintf("%s: Secret %s/%s has no key %s", field, namespace, name, k)}
		}
	}
	return s.Data, nil
}

// IsProblem reports whether err is a tenant object's own problem (as opposed to a failed read).
func IsProblem(err error) (*Problem, bool) {
	var p *Problem
	return p, errors.As(err, &p)
}
