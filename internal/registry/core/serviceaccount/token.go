package serviceaccount

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/satoken"
)

// TokenConfig configures the serviceaccounts/token subresource
// (TokenRequest).
type TokenConfig struct {
	// Tokens signs the tokens; nil: the subresource is not served.
	Tokens *satoken.Tokens
	// Lookup reads the objects a token is bound to.
	Lookup satoken.Lookup
	// MaxExpiration caps requested lifetimes
	// (--service-account-max-token-expiration); 0: no cap.
	MaxExpiration time.Duration
}

// Lifetime bounds of a requested token, as upstream validates them.
const (
	minTokenSeconds     = 10 * 60
	maxTokenSeconds     = 1 << 32
	defaultTokenSeconds = 60 * 60
)

// tokenCreator returns the TokenRequest subresource of cfg.
func tokenCreator(cfg TokenConfig) registry.Creator {
	return registry.Creator{
		New:          func() runtime.Object { return &authenticationv1.TokenRequest{} },
		GroupVersion: authenticationv1.SchemeGroupVersion,
		Create: func(ctx context.Context, cur, req runtime.Object) (runtime.Object, error) {
			return createToken(ctx, cfg, cur.(*corev1.ServiceAccount), req.(*authenticationv1.TokenRequest))
		},
	}
}

func createToken(ctx context.Context, cfg TokenConfig, sa *corev1.ServiceAccount, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	out := req.DeepCopy()
	if out.Spec.ExpirationSeconds == nil {
		out.Spec.ExpirationSeconds = new(int64(defaultTokenSeconds))
	}
	if errs := validateTokenRequest(out); len(errs) > 0 {
		return nil, apierrors.NewInvalid(authenticationv1.SchemeGroupVersion.WithKind("TokenRequest").GroupKind(), sa.Name, errs)
	}
	if sa.DeletionTimestamp != nil {
		return nil, apierrors.NewConflict(corev1.Resource("serviceaccounts"), sa.Name,
			fmt.Errorf("cannot issue a token for service account %q: it is being deleted", sa.Name))
	}
	r := satoken.Request{
		Namespace:      sa.Namespace,
		ServiceAccount: satoken.Ref{Name: sa.Name, UID: string(sa.UID)},
		Audiences:      out.Spec.Audiences,
	}
	if ref := out.Spec.BoundObjectRef; ref != nil {
		bound, err := bindTo(ctx, cfg.Lookup, sa, ref)
		if err != nil {
			return nil, err
		}
		ref.UID = types.UID(bound.UID)
		switch ref.Kind {
		case "Pod":
			r.Pod = bound
		case "Secret":
			r.Secret = bound
		case "Node":
			r.Node = bound
		}
	}
	lifetime := time.Duration(*out.Spec.ExpirationSeconds) * time.Second
	if cfg.MaxExpiration > 0 && lifetime > cfg.MaxExpiration {
		lifetime = cfg.MaxExpiration
	}
	r.Lifetime = lifetime
	tok, exp, err := cfg.Tokens.Issue(r)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if len(out.Spec.Audiences) == 0 {
		out.Spec.Audiences = cfg.Tokens.Audiences()
	}
	out.Spec.ExpirationSeconds = new(int64(lifetime / time.Second))
	out.Status = authenticationv1.TokenRequestStatus{Token: tok, ExpirationTimestamp: metav1.NewTime(exp)}
	return out, nil
}

// bindTo checks the object a token is to be bound to and returns its
// reference with the stored UID.
func bindTo(ctx context.Context, lookup satoken.Lookup, sa *corev1.ServiceAccount, ref *authenticationv1.BoundObjectReference) (*satoken.Ref, error) {
	if ref.APIVersion != "" && ref.APIVersion != "v1" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s/%s", ref.APIVersion, ref.Kind))
	}
	var meta metav1.ObjectMeta
	gr := corev1.Resource("pods")
	switch ref.Kind {
	case "Pod":
		pod, err := lookup.Pod(ctx, sa.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		if pod.Spec.ServiceAccountName != sa.Name {
			return nil, apierrors.NewBadRequest(fmt.Sprintf(
				"cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", sa.Name))
		}
		meta = pod.ObjectMeta
	case "Secret":
		gr = corev1.Resource("secrets")
		s, err := lookup.Secret(ctx, sa.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		meta = s.ObjectMeta
	case "Node":
		gr = corev1.Resource("nodes")
		n, err := lookup.Node(ctx, ref.Name)
		if err != nil {
			return nil, err
		}
		meta = n.ObjectMeta
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", ref.Kind))
	}
	if ref.UID != "" && ref.UID != meta.UID {
		return nil, apierrors.NewConflict(gr, ref.Name, fmt.Errorf(
			"the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated",
			ref.UID))
	}
	return &satoken.Ref{Name: meta.Name, UID: string(meta.UID)}, nil
}

// validateTokenRequest checks a defaulted TokenRequest as upstream does.
func validateTokenRequest(tr *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	exp := field.NewPath("spec", "expirationSeconds")
	switch s := *tr.Spec.ExpirationSeconds; {
	case s < minTokenSeconds:
		errs = append(errs, field.Invalid(exp, s, "may not specify a duration less than 10 minutes"))
	case s > maxTokenSeconds:
		errs = append(errs, field.Invalid(exp, s, "may not specify a duration larger than 2^32 seconds"))
	}
	if ref := tr.Spec.BoundObjectRef; ref != nil && ref.Name == "" {
		errs = append(errs, field.Required(field.NewPath("spec", "boundObjectRef", "name"), ""))
	}
	return errs
}
