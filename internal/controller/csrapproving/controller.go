package csrapproving

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certificateslisters "k8s.io/client-go/listers/certificates/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/api/certificates"
	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// ReasonAutoApproved is the reason of the controller's Approved condition.
const ReasonAutoApproved = "AutoApproved"

// Messages of the Approved condition; the first two are upstream's.
const (
	selfNodeClientMessage = "Auto approving self kubelet client certificate after SubjectAccessReview."
	nodeClientMessage     = "Auto approving kubelet client certificate after SubjectAccessReview."
	servingMessage        = "Auto approving kubelet serving certificate of a node for its own addresses."
)

// fieldManager names the controller's writes.
const fieldManager = "csrapproving-controller"

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// Authorizer decides whether a requester may have its node client
	// certificate approved. Required.
	Authorizer authz.Authorizer
	Logger     *slog.Logger
}

// Controller approves node certificate requests.
type Controller struct {
	cfg    Config
	csrs   certificateslisters.CertificateSigningRequestLister
	nodes  corelisters.NodeLister
	synced []cache.InformerSynced
	queue  *keyqueue.Queue
}

// New returns the controller, registering its CSR and Node informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Authorizer == nil {
		return nil, errors.New("csrapproving: client, informers and authorizer are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{cfg: cfg}
	c.queue = keyqueue.New(keyqueue.Config{Name: "csrapproving", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started CSR approving controller", Failed: "Approved CSR with errors", KeyName: "csr"})
	csrs := cfg.Informers.Certificates().V1().CertificateSigningRequests()
	nodes := cfg.Informers.Core().V1().Nodes()
	c.csrs, c.nodes = csrs.Lister(), nodes.Lister()
	c.synced = []cache.InformerSynced{csrs.Informer().HasSynced, nodes.Informer().HasSynced}
	if _, err := csrs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.queue.Enqueue,
		UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) },
	}); err != nil {
		return nil, err
	}
	// A node's serving request waits for the node's addresses.
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueServingOf,
		UpdateFunc: func(_, obj any) { c.enqueueServingOf(obj) },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run approves CSRs until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, 1, c.synced...)
	return nil
}

// enqueueServingOf queues the pending serving requests of a node.
func (c *Controller) enqueueServingOf(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	all, err := c.csrs.List(labels.Everything())
	if err != nil {
		return
	}
	for _, csr := range all {
		if csr.Spec.SignerName == certificatesv1.KubeletServingSignerName && csr.Spec.Username == certificates.NodeUserPrefix+node.Name &&
			len(csr.Status.Conditions) == 0 {
			c.queue.Enqueue(csr)
		}
	}
}

// sync approves the CSR named key when one of the rules allows it.
func (c *Controller) sync(ctx context.Context, key string) error {
	cur, err := c.csrs.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(cur.Status.Certificate) > 0 || certificates.HasCondition(cur, certificatesv1.CertificateApproved) ||
		certificates.HasCondition(cur, certificatesv1.CertificateDenied) {
		return nil
	}
	req, err := certificates.ParseRequest(cur.Spec.Request)
	if err != nil {
		return nil // the registry validated it: nothing a retry would change
	}
	var message string
	switch cur.Spec.SignerName {
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		message, err = c.nodeClient(ctx, cur, req)
	case certificatesv1.KubeletServingSignerName:
		message, err = c.serving(cur, req)
	}
	if err != nil || message == "" {
		return err
	}
	upd := cur.DeepCopy()
	upd.Status.Conditions = append(upd.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: ReasonAutoApproved, Message: message,
	})
	_, err = c.cfg.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, upd.Name, upd, metav1.UpdateOptions{FieldManager: fieldManager})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return fmt.Errorf("approving %s: %w", cur.Name, keyqueue.ErrRetry)
	case err != nil:
		return fmt.Errorf("approving %s: %w", cur.Name, err)
	}
	c.cfg.Logger.Info("Approved CSR", "csr", cur.Name, "signer", cur.Spec.SignerName, "requestor", cur.Spec.Username)
	return nil
}

// nodeClient returns the approval message of a node client request whose
// requester may create selfnodeclient (it is the node it names) or
// nodeclient requests, "" when the request is not a node client request.
// A recognised request its requester may not have approved is retried
// later: the permission may be granted.
func (c *Controller) nodeClient(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) (string, error) {
	if certificates.ValidateKubeletClient(req, csr.Spec.Usages) != nil {
		return "", nil
	}
	var tried []string
	for _, r := range []struct{ subresource, message string }{
		{"selfnodeclient", selfNodeClientMessage},
		{"nodeclient", nodeClientMessage},
	} {
		if r.subresource == "selfnodeclient" && csr.Spec.Username != req.Subject.CommonName {
			continue
		}
		tried = append(tried, r.subresource)
		if c.allowed(ctx, csr, r.subresource) {
			return r.message, nil
		}
	}
	return "", fmt.Errorf("%s: recognised as %v but not allowed: %w", csr.Name, tried, keyqueue.ErrRetry)
}

// allowed asks whether the requester of csr may create
// certificatesigningrequests/<subresource>.
func (c *Controller) allowed(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, subresource string) bool {
	d := c.cfg.Authorizer.Authorize(ctx, authz.Attributes{
		User:            authn.User{Name: csr.Spec.Username, Groups: csr.Spec.Groups},
		Verb:            "create",
		ResourceRequest: true,
		Group:           certificatesv1.GroupName,
		Version:         "*",
		Resource:        "certificatesigningrequests",
		Subresource:     subresource,
	})
	return d.Allowed
}

// serving returns the approval message of a serving request a node made
// for itself and its own addresses, "" when the request is not one. A
// request whose names are not (yet) the node's is retried when the Node
// changes.
func (c *Controller) serving(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) (string, error) {
	name, ok := certificates.NodeName(csr.Spec.Username)
	if !ok || req.Subject.CommonName != csr.Spec.Username || !slices.Contains(csr.Spec.Groups, certificates.NodesGroup) ||
		certificates.ValidateKubeletServing(req, csr.Spec.Usages) != nil {
		return "", nil
	}
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return "", nil // the Node's creation queues the request again
	}
	if err != nil {
		return "", err
	}
	if name, ok := foreignName(req, node); ok {
		c.cfg.Logger.Debug("Left CSR pending: a name is not the node's", "csr", csr.Name, "node", node.Name, "name", name)
		return "", nil
	}
	return servingMessage, nil
}

// foreignName returns a DNS or IP name of req that is not an address of
// node.
func foreignName(req *x509.CertificateRequest, node *corev1.Node) (string, bool) {
	for _, ip := range req.IPAddresses {
		if !slices.ContainsFunc(node.Status.Addresses, func(a corev1.NodeAddress) bool {
			return (a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP) && ip.Equal(net.ParseIP(a.Address))
		}) {
			return ip.String(), true
		}
	}
	for _, dns := range req.DNSNames {
		if !slices.ContainsFunc(node.Status.Addresses, func(a corev1.NodeAddress) bool {
			return (a.Type == corev1.NodeHostName || a.Type == corev1.NodeInternalDNS || a.Type == corev1.NodeExternalDNS) &&
				strings.EqualFold(dns, a.Address)
		}) {
			return dns, true
		}
	}
	return "", false
}
