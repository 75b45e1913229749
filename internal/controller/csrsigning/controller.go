package csrsigning

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certificateslisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/api/certificates"
	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// ReasonSignerValidationFailure is the reason of the Failed condition of a
// request its signer's rules refuse.
const ReasonSignerValidationFailure = "SignerValidationFailure"

// fieldManager names the controller's writes.
const fieldManager = "csrsigning-controller"

// rule checks a request against one signer's rules.
type rule func(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error

// rules are the signers served, by name.
var rules = map[string]rule{
	certificatesv1.KubeAPIServerClientKubeletSignerName: certificates.ValidateKubeletClient,
	certificatesv1.KubeletServingSignerName:             certificates.ValidateKubeletServing,
	certificatesv1.KubeAPIServerClientSignerName:        certificates.ValidateAPIServerClient,
}

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// CA signs the certificates. Required.
	CA CA
	// Duration is the longest certificate issued
	// (--cluster-signing-duration); 0 means DefaultDuration.
	Duration time.Duration
	// Now is the clock of the certificates' validity; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Controller issues the certificates of approved CSRs.
type Controller struct {
	cfg    Config
	csrs   certificateslisters.CertificateSigningRequestLister
	synced cache.InformerSynced
	queue  *keyqueue.Queue
}

// New returns the controller, registering its CSR informer.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("csrsigning: client and informers are required")
	}
	if cfg.CA.Cert == nil || cfg.CA.Key == nil {
		return nil, errors.New("csrsigning: CA certificate and key are required")
	}
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{cfg: cfg}
	c.queue = keyqueue.New(keyqueue.Config{Name: "csrsigning", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started CSR signing controller", Failed: "Signed CSR with errors", KeyName: "csr"})
	inf := cfg.Informers.Certificates().V1().CertificateSigningRequests()
	c.csrs, c.synced = inf.Lister(), inf.Informer().HasSynced
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.queue.Enqueue,
		UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run signs CSRs until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, 1, c.synced)
	return nil
}

// sync issues the certificate of the CSR named key, or fails it.
func (c *Controller) sync(ctx context.Context, key string) error {
	cur, err := c.csrs.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	check, ours := rules[cur.Spec.SignerName]
	if !ours || len(cur.Status.Certificate) > 0 || !certificates.IsApproved(cur) ||
		certificates.HasCondition(cur, certificatesv1.CertificateFailed) {
		return nil
	}
	upd := cur.DeepCopy()
	req, err := certificates.ParseRequest(cur.Spec.Request)
	if err == nil {
		err = check(req, cur.Spec.Usages)
	}
	if err != nil {
		c.cfg.Logger.Info("Refused CSR", "csr", cur.Name, "signer", cur.Spec.SignerName, "err", err)
		upd.Status.Conditions = append(upd.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue,
			Reason: ReasonSignerValidationFailure, Message: err.Error(), LastUpdateTime: metav1.NewTime(c.cfg.Now()),
		})
		return c.writeStatus(ctx, upd)
	}
	if upd.Status.Certificate, err = c.cfg.CA.sign(req, cur.Spec.Usages, duration(cur.Spec.ExpirationSeconds, c.cfg.Duration), c.cfg.Now()); err != nil {
		return fmt.Errorf("signing %s: %w", cur.Name, err)
	}
	if err := c.writeStatus(ctx, upd); err != nil {
		return err
	}
	c.cfg.Logger.Info("Issued certificate", "csr", cur.Name, "signer", cur.Spec.SignerName, "subject", req.Subject.String())
	return nil
}

// writeStatus writes csr through /status; a stale cache retries later.
func (c *Controller) writeStatus(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	_, err := c.cfg.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{FieldManager: fieldManager})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return fmt.Errorf("status of %s: %w", csr.Name, keyqueue.ErrRetry)
	case err != nil:
		return fmt.Errorf("status of %s: %w", csr.Name, err)
	}
	return nil
}
