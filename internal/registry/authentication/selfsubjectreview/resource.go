package selfsubjectreview

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes authentication.k8s.io/v1 selfsubjectreviews as
// upstream's discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:        authenticationv1.GroupName,
		Version:      "v1",
		Resource:     "selfsubjectreviews",
		Kind:         "SelfSubjectReview",
		SingularName: "selfsubjectreview",
		Verbs:        []string{"create"},
		New:          func() runtime.Object { return &authenticationv1.SelfSubjectReview{} },
		Review:       review,
	}
}

func review(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	u, ok := authn.FromContext(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("no user in the request")
	}
	out := obj.(*authenticationv1.SelfSubjectReview).DeepCopy()
	out.Status.UserInfo = authenticationv1.UserInfo{Username: u.Name, Groups: append([]string(nil), u.Groups...)}
	return out, nil
}
