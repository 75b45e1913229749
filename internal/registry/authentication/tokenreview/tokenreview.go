package tokenreview

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/registry"
)

// Reviewer authenticates token for one of audiences (none: the API
// server's own) and returns the user and the audiences it is valid for.
type Reviewer func(ctx context.Context, token string, audiences []string) (authn.User, []string, error)

// Resource describes authentication.k8s.io/v1 tokenreviews.
func Resource(review Reviewer) registry.Resource {
	return registry.Resource{
		Group:        authenticationv1.GroupName,
		Version:      "v1",
		Resource:     "tokenreviews",
		Kind:         "TokenReview",
		SingularName: "tokenreview",
		Verbs:        []string{"create"},
		New:          func() runtime.Object { return &authenticationv1.TokenReview{} },
		Review: func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
			out := obj.(*authenticationv1.TokenReview).DeepCopy()
			out.Status = authenticationv1.TokenReviewStatus{}
			if out.Spec.Token == "" {
				out.Status.Error = "token is empty"
				return out, nil
			}
			u, auds, err := review(ctx, out.Spec.Token, out.Spec.Audiences)
			if err != nil {
				// Like upstream, the reason stays out of the answer: it
				// would tell a caller how close a forged token came.
				out.Status.Error = "invalid bearer token"
				return out, nil
			}
			out.Status.Authenticated = true
			out.Status.User = authenticationv1.UserInfo{Username: u.Name, Groups: u.Groups}
			out.Status.Audiences = auds
			return out, nil
		},
	}
}
