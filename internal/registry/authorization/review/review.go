package review

import (
	"context"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/registry"
)

// Resources returns the four reviews, answered by a.
func Resources(a authz.Authorizer) []registry.Resource {
	res := func(resource, kind string, namespaced bool, newObj func() runtime.Object,
		review func(context.Context, runtime.Object) (runtime.Object, error)) registry.Resource {
		return registry.Resource{Group: authorizationv1.GroupName, Version: "v1", Resource: resource, Kind: kind,
			SingularName: strings.ToLower(kind), Namespaced: namespaced, Verbs: []string{"create"}, New: newObj, Review: review}
	}
	r := reviewer{a: a}
	return []registry.Resource{
		res("selfsubjectaccessreviews", "SelfSubjectAccessReview", false,
			func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} }, r.self),
		res("subjectaccessreviews", "SubjectAccessReview", false,
			func() runtime.Object { return &authorizationv1.SubjectAccessReview{} }, r.subject),
		res("localsubjectaccessreviews", "LocalSubjectAccessReview", true,
			func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} }, r.local),
		res("selfsubjectrulesreviews", "SelfSubjectRulesReview", false,
			func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} }, r.rules),
	}
}

type reviewer struct{ a authz.Authorizer }

func (r reviewer) self(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	out := obj.(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
	u, ok := authn.FromContext(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("no user in the request")
	}
	if errs := validateAttributes(out.Spec.ResourceAttributes, out.Spec.NonResourceAttributes); len(errs) > 0 {
		return nil, invalid("SelfSubjectAccessReview", errs)
	}
	out.Status = r.decide(ctx, u, out.Spec.ResourceAttributes, out.Spec.NonResourceAttributes)
	return out, nil
}

func (r reviewer) subject(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	out := obj.(*authorizationv1.SubjectAccessReview).DeepCopy()
	errs := validateAttributes(out.Spec.ResourceAttributes, out.Spec.NonResourceAttributes)
	if out.Spec.User == "" && len(out.Spec.Groups) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "user"), out.Spec.User, "at least one of user or group must be specified"))
	}
	if len(errs) > 0 {
		return nil, invalid("SubjectAccessReview", errs)
	}
	u := authn.User{Name: out.Spec.User, Groups: out.Spec.Groups}
	out.Status = r.decide(ctx, u, out.Spec.ResourceAttributes, out.Spec.NonResourceAttributes)
	return out, nil
}

func (r reviewer) local(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	out := obj.(*authorizationv1.LocalSubjectAccessReview).DeepCopy()
	errs := validateAttributes(out.Spec.ResourceAttributes, out.Spec.NonResourceAttributes)
	if out.Spec.NonResourceAttributes != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec", "nonResourceAttributes"), out.Spec.NonResourceAttributes,
			"disallowed on this kind of request"))
	}
	if ra := out.Spec.ResourceAttributes; ra != nil && ra.Namespace != out.Namespace {
		errs = append(errs, field.Invalid(field.NewPath("spec", "resourceAttributes", "namespace"), ra.Namespace,
			"must match metadata.namespace"))
	}
	if out.Spec.User == "" && len(out.Spec.Groups) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "user"), out.Spec.User, "at least one of user or group must be specified"))
	}
	if len(errs) > 0 {
		return nil, invalid("LocalSubjectAccessReview", errs)
	}
	u := authn.User{Name: out.Spec.User, Groups: out.Spec.Groups}
	out.Status = r.decide(ctx, u, out.Spec.ResourceAttributes, nil)
	return out, nil
}

func (r reviewer) rules(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	out := obj.(*authorizationv1.SelfSubjectRulesReview).DeepCopy()
	u, ok := authn.FromContext(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("no user in the request")
	}
	res, nonRes, incomplete := r.a.RulesFor(ctx, u, out.Spec.Namespace)
	out.Status = authorizationv1.SubjectRulesReviewStatus{Incomplete: incomplete,
		ResourceRules: []authorizationv1.ResourceRule{}, NonResourceRules: []authorizationv1.NonResourceRule{}}
	for _, rule := range res {
		out.Status.ResourceRules = append(out.Status.ResourceRules, authorizationv1.ResourceRule{Verbs: rule.Verbs,
			APIGroups: rule.APIGroups, Resources: rule.Resources, ResourceNames: rule.ResourceNames})
	}
	for _, rule := range nonRes {
		out.Status.NonResourceRules = append(out.Status.NonResourceRules,
			authorizationv1.NonResourceRule{Verbs: rule.Verbs, NonResourceURLs: rule.NonResourceURLs})
	}
	return out, nil
}

// decide asks the authorizer about one set of attributes.
func (r reviewer) decide(ctx context.Context, u authn.User, ra *authorizationv1.ResourceAttributes,
	nra *authorizationv1.NonResourceAttributes) authorizationv1.SubjectAccessReviewStatus {
	a := authz.Attributes{User: u}
	if ra != nil {
		a.ResourceRequest = true
		a.Verb, a.Namespace, a.Group, a.Version = ra.Verb, ra.Namespace, ra.Group, ra.Version
		a.Resource, a.Subresource, a.Name = ra.Resource, ra.Subresource, ra.Name
	} else {
		a.Verb, a.Path = nra.Verb, nra.Path
	}
	d := r.a.Authorize(ctx, a)
	return authorizationv1.SubjectAccessReviewStatus{Allowed: d.Allowed, Denied: d.Denied, Reason: d.Reason}
}

// validateAttributes checks that exactly one kind of attributes is given,
// as upstream does.
func validateAttributes(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) field.ErrorList {
	spec := field.NewPath("spec")
	switch {
	case ra == nil && nra == nil:
		return field.ErrorList{field.Invalid(spec.Child("resourceAttributes"), nil,
			"exactly one of nonResourceAttributes or resourceAttributes must be specified")}
	case ra != nil && nra != nil:
		return field.ErrorList{field.Invalid(spec.Child("nonResourceAttributes"), nra,
			"cannot be specified in combination with resourceAttributes")}
	}
	return nil
}

func invalid(kind string, errs field.ErrorList) error {
	return apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind(kind).GroupKind(), "", errs)
}
