package csrapproving

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/controller/controllertest"
	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// fakeAuthorizer allows creating certificatesigningrequests/<subresource>
// to the users and groups listed for it, as upstream's default RBAC
// bindings do (system:bootstrappers: nodeclient, system:nodes:
// selfnodeclient).
type fakeAuthorizer map[string][]string

func (f fakeAuthorizer) Authorize(_ context.Context, a authz.Attributes) authz.Decision {
	if !a.ResourceRequest || a.Verb != "create" || a.Group != "certificates.k8s.io" || a.Resource != "certificatesigningrequests" {
		return authz.Decision{}
	}
	for _, who := range f[a.Subresource] {
		if who == a.User.Name || slices.Contains(a.User.Groups, who) {
			return authz.Decision{Allowed: true}
		}
	}
	return authz.Decision{}
}

func (fakeAuthorizer) RulesFor(context.Context, authn.User, string) ([]authz.Rule, []authz.Rule, bool) {
	return nil, nil, true
}

var defaultRBAC = fakeAuthorizer{"nodeclient": {"system:bootstrappers"}, "selfnodeclient": {"system:nodes"}}

func newRequest(t *testing.T, tmpl x509.CertificateRequest) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func node(name string, addresses ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Addresses: addresses}}
}

var n1Addresses = []corev1.NodeAddress{
	{Type: corev1.NodeInternalIP, Address: "192.0.2.10"},
	{Type: corev1.NodeInternalIP, Address: "2001:db8::10"},
	{Type: corev1.NodeHostName, Address: "n1"},
}

type request struct {
	signer   string
	user     string
	groups   []string
	cn       string
	orgs     []string
	dns      []string
	ips      []string
	usages   []certificatesv1.KeyUsage
	conds    []certificatesv1.RequestConditionType
	hasCert  bool
	fromNode bool // shorthand: user and cn system:node:n1, group system:nodes
}

func (r request) csr(t *testing.T) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	if r.fromNode {
		r.user, r.cn, r.groups = "system:node:n1", "system:node:n1", []string{"system:nodes", "system:authenticated"}
	}
	if r.orgs == nil {
		r.orgs = []string{"system:nodes"}
	}
	tmpl := x509.CertificateRequest{Subject: pkix.Name{CommonName: r.cn, Organization: r.orgs}, DNSNames: r.dns}
	for _, ip := range r.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	if r.usages == nil {
		r.usages = []certificatesv1.KeyUsage{"digital signature", "client auth"}
		if r.signer == certificatesv1.KubeletServingSignerName {
			r.usages = []certificatesv1.KeyUsage{"digital signature", "server auth"}
		}
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-1"},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: newRequest(t, tmpl), SignerName: r.signer,
			Usages: r.usages, Username: r.user, Groups: r.groups},
	}
	for _, c := range r.conds {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: c, Status: corev1.ConditionTrue})
	}
	if r.hasCert {
		csr.Status.Certificate = []byte("issued")
	}
	return csr
}

type fixture struct {
	client kubernetes.Interface
	c      *Controller
	ctx    context.Context
	cancel context.CancelFunc
}

func newFixture(t *testing.T, auth authz.Authorizer, objs ...runtime.Object) *fixture {
	t.Helper()
	client := controllertest.NewClient(objs...)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, Authorizer: auth})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return &fixture{client: client, c: c, ctx: ctx, cancel: cancel}
}

func (f *fixture) get(t *testing.T) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	csr, err := f.client.CertificatesV1().CertificateSigningRequests().Get(f.ctx, "csr-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func approval(csr *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequestCondition {
	for i, c := range csr.Status.Conditions {
		if c.Type == certificatesv1.CertificateApproved {
			return &csr.Status.Conditions[i]
		}
	}
	return nil
}

func TestApproval(t *testing.T) {
	client, serving := certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName
	bootstrap := request{signer: client, user: "system:bootstrap:abcdef", groups: []string{"system:bootstrappers", "system:authenticated"}, cn: "system:node:n1"}
	for _, tc := range []struct {
		name      string
		req       request
		node      *corev1.Node
		wantMsg   string // "" means left as it was
		wantRetry bool
	}{
		{name: "bootstrap token's node client", req: bootstrap, wantMsg: nodeClientMessage},
		{name: "node renews its client certificate", req: request{signer: client, fromNode: true}, wantMsg: selfNodeClientMessage},
		{
			name:      "node asks for another node's client certificate",
			req:       request{signer: client, user: "system:node:n2", groups: []string{"system:nodes"}, cn: "system:node:n1"},
			wantRetry: true,
		},
		{name: "user without permission", req: request{signer: client, user: "alice", cn: "system:node:n1"}, wantRetry: true},
		{name: "not a node client request", req: request{signer: client, user: "system:bootstrap:abcdef", groups: []string{"system:bootstrappers"}, cn: "system:node:n1", orgs: []string{"system:masters"}}},
		{name: "already denied", req: request{signer: client, fromNode: true, conds: []certificatesv1.RequestConditionType{certificatesv1.CertificateDenied}}},
		{name: "already issued", req: request{signer: client, fromNode: true, hasCert: true}},
		{name: "API client signer", req: request{signer: certificatesv1.KubeAPIServerClientSignerName, fromNode: true}},
		{
			name: "node's serving certificate for its addresses", node: node("n1", n1Addresses...), wantMsg: servingMessage,
			req: request{signer: serving, fromNode: true, dns: []string{"N1"}, ips: []string{"192.0.2.10", "2001:db8::10"}},
		},
		{
			name: "serving certificate for another address", node: node("n1", n1Addresses...),
			req: request{signer: serving, fromNode: true, dns: []string{"n1"}, ips: []string{"192.0.2.99"}},
		},
		{
			name: "serving certificate for another name", node: node("n1", n1Addresses...),
			req: request{signer: serving, fromNode: true, dns: []string{"example.com"}},
		},
		{
			name: "serving certificate asked by a bootstrap token", node: node("n1", n1Addresses...),
			req: request{signer: serving, user: "system:bootstrap:abcdef", groups: []string{"system:bootstrappers"}, cn: "system:node:n1", dns: []string{"n1"}},
		},
		{
			name: "serving certificate for another node", node: node("n1", n1Addresses...),
			req: request{signer: serving, user: "system:node:n2", groups: []string{"system:nodes"}, cn: "system:node:n1", dns: []string{"n1"}},
		},
		{name: "serving certificate of an unknown node", req: request{signer: serving, fromNode: true, dns: []string{"n1"}}},
		{
			name: "serving certificate with client usages", node: node("n1", n1Addresses...),
			req: request{signer: serving, fromNode: true, dns: []string{"n1"}, usages: []certificatesv1.KeyUsage{"digital signature", "client auth"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr := tc.req.csr(t)
			objs := []runtime.Object{csr}
			if tc.node != nil {
				objs = append(objs, tc.node)
			}
			f := newFixture(t, defaultRBAC, objs...)
			err := f.c.sync(f.ctx, "csr-1")
			if got := errors.Is(err, keyqueue.ErrRetry); got != tc.wantRetry || (err != nil && !got) {
				t.Errorf("sync: got %v, want retry %v", err, tc.wantRetry)
			}
			got := f.get(t)
			c := approval(got)
			switch {
			case tc.wantMsg == "" && len(got.Status.Conditions) != len(csr.Status.Conditions):
				t.Errorf("got conditions %+v, want them unchanged", got.Status.Conditions)
			case tc.wantMsg != "" && (c == nil || c.Status != corev1.ConditionTrue || c.Reason != ReasonAutoApproved || c.Message != tc.wantMsg):
				t.Errorf("got Approved %+v, want True/%s %q", c, ReasonAutoApproved, tc.wantMsg)
			}
		})
	}
}

// TestServingWaitsForTheNode runs the controller: a serving request made
// before the Node reports its addresses is approved once it does.
func TestServingWaitsForTheNode(t *testing.T) {
	csr := request{signer: certificatesv1.KubeletServingSignerName, fromNode: true, ips: []string{"192.0.2.10"}}.csr(t)
	f := newFixture(t, defaultRBAC, csr, node("n1"))
	done := make(chan error, 1)
	go func() { done <- f.c.Run(f.ctx) }()
	t.Cleanup(func() { f.cancel(); <-done })

	n := node("n1", n1Addresses...)
	if _, err := f.client.CoreV1().Nodes().UpdateStatus(f.ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(f.ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return approval(f.get(t)) != nil, nil
	})
	if err != nil {
		t.Fatalf("serving request not approved after the node's addresses appeared: %v", err)
	}
}
