package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/svcnet/svcnet/internal/server"
	"github.com/svcnet/svcnet/test/integration/framework"
)

// TestServiceAccounts checks what every namespace gets and what a pod's
// identity is made of: the default ServiceAccount and the kube-root-ca.crt
// ConfigMap (both restored when deleted or edited), TokenRequest through
// stock kubectl (`kubectl create token`) with upstream's validation, tokens
// that authenticate only while their ServiceAccount and bound pod live and
// only for the API's audience, and the kube-api-access volume admission
// adds to pods unless they or their ServiceAccount opt out.
func TestServiceAccounts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts := framework.Start(t, framework.Options{Modify: func(c *server.Config) {
		c.Disable = []string{"agent", "dns", "proxy"}
	}})
	const ns = "sa-test"
	if _, err := ts.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sas := ts.Client.CoreV1().ServiceAccounts(ns)
	cms := ts.Client.CoreV1().ConfigMaps(ns)
	var sa *corev1.ServiceAccount
	framework.Eventually(t, 30*time.Second, func() (err error) {
		sa, err = sas.Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	checkRootCA := func() error {
		cm, err := cms.Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := cm.Data["ca.crt"]; !bytes.Equal([]byte(got), ts.Config.CAData) {
			return fmt.Errorf("kube-root-ca.crt holds %q, want the cluster CA", got)
		}
		return nil
	}
	framework.Eventually(t, 30*time.Second, checkRootCA)

	t.Run("restored", func(t *testing.T) {
		if err := sas.Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, 30*time.Second, func() error {
			again, err := sas.Get(ctx, "default", metav1.GetOptions{})
			if err == nil && again.UID == sa.UID {
				return errors.New("still the deleted ServiceAccount")
			}
			if err == nil {
				sa = again
			}
			return err
		})
		cm, err := cms.Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data["ca.crt"] = "not a CA"
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, 30*time.Second, checkRootCA)
		if err := cms.Delete(ctx, "kube-root-ca.crt", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, 30*time.Second, checkRootCA)
	})

	// asToken is a client that authenticates with tok alone.
	asToken := func(tok string) kubernetes.Interface {
		cfg := rest.AnonymousClientConfig(ts.Config)
		cfg.BearerToken = tok
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// authenticates reports whether tok is accepted (any answer but 401).
	authenticates := func(tok string) bool {
		// A ServiceAccount may not list ConfigMaps: 403 is an
		// authenticated answer.
		_, err := asToken(tok).CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err != nil && !apierrors.IsUnauthorized(err) && !apierrors.IsForbidden(err) {
			t.Fatalf("request with a token: %v", err)
		}
		return !apierrors.IsUnauthorized(err)
	}

	t.Run("kubectl create token", func(t *testing.T) {
		tok := strings.TrimSpace(ts.MustKubectl(t, "", "", "create", "token", "default", "-n", ns))
		if !authenticates(tok) {
			t.Fatalf("a fresh token of %s/default is refused", ns)
		}
		// SelfSubjectReview: who the token is, and kubectl auth whoami.
		ssr, err := asToken(tok).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ssr.Status.UserInfo.Username, "system:serviceaccount:"+ns+":default"; got != want {
			t.Errorf("SelfSubjectReview: user %q, want %q", got, want)
		}
		if got, want := strings.Join(ssr.Status.UserInfo.Groups, ","), "system:serviceaccounts,system:serviceaccounts:"+ns+",system:authenticated"; got != want {
			t.Errorf("SelfSubjectReview: groups %q, want %q", got, want)
		}
		// TokenReview: the token, an audience-bound one, a forged one.
		vault := strings.TrimSpace(ts.MustKubectl(t, "", "", "create", "token", "default", "-n", ns, "--audience", "vault"))
		reviews := ts.Client.AuthenticationV1().TokenReviews()
		for _, tc := range []struct {
			name, token string
			audiences   []string
			wantUser    string
		}{
			{"API token", tok, nil, "system:serviceaccount:" + ns + ":default"},
			{"token for vault, asked for vault", vault, []string{"vault"}, "system:serviceaccount:" + ns + ":default"},
			{"token for vault, asked for the API", vault, nil, ""},
			{"forged", tok + "x", nil, ""},
		} {
			tr, err := reviews.Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tc.token,
				Audiences: tc.audiences}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("TokenReview %s: %v", tc.name, err)
			}
			if tr.Status.Authenticated != (tc.wantUser != "") || tr.Status.User.Username != tc.wantUser {
				t.Errorf("TokenReview %s: %+v, want user %q", tc.name, tr.Status, tc.wantUser)
			}
		}
		who := ts.MustKubectl(t, "", "", "auth", "whoami")
		if !strings.Contains(who, "admin") || !strings.Contains(who, "system:masters") {
			t.Errorf("kubectl auth whoami as admin:\n%s", who)
		}
		other := strings.TrimSpace(ts.MustKubectl(t, "", "", "create", "token", "default", "-n", ns, "--audience", "vault"))
		if authenticates(other) {
			t.Errorf("a token for audience vault is accepted by the API server")
		}
		_, err = ts.Kubectl(t, "", "", "create", "token", "default", "-n", ns, "--duration", "5m")
		if err == nil || !strings.Contains(err.Error(), "may not specify a duration less than 10 minutes") {
			t.Errorf("got %v, want the 10 minute minimum refused", err)
		}
		if authenticates(tok + "x") {
			t.Errorf("a token with a broken signature is accepted")
		}
		if err := sas.Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if authenticates(tok) {
			t.Errorf("the token of a deleted ServiceAccount is accepted")
		}
		// The controller re-creates default with a new UID: the old
		// token stays invalid.
		framework.Eventually(t, 30*time.Second, func() (err error) {
			sa, err = sas.Get(ctx, "default", metav1.GetOptions{})
			return err
		})
		if authenticates(tok) {
			t.Errorf("the token of a deleted and re-created ServiceAccount is accepted")
		}
	})

	pods := ts.Client.CoreV1().Pods(ns)
	newPod := func(name string, automount *bool) *corev1.Pod {
		p, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			AutomountServiceAccountToken: automount,
			InitContainers:               []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers:                   []corev1.Container{{Name: "c", Image: "busybox"}},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("token volume", func(t *testing.T) {
		p := newPod("with-token", nil)
		var vol *corev1.Volume
		for i := range p.Spec.Volumes {
			if strings.HasPrefix(p.Spec.Volumes[i].Name, "kube-api-access-") {
				vol = &p.Spec.Volumes[i]
			}
		}
		if vol == nil || vol.Projected == nil || len(vol.Projected.Sources) != 3 ||
			vol.Projected.Sources[0].ServiceAccountToken == nil || vol.Projected.Sources[1].ConfigMap == nil ||
			vol.Projected.Sources[1].ConfigMap.Name != "kube-root-ca.crt" || vol.Projected.Sources[2].DownwardAPI == nil {
			t.Fatalf("got volumes %+v, want the projected kube-api-access volume", p.Spec.Volumes)
		}
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			want := corev1.VolumeMount{Name: vol.Name, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}
			if len(c.VolumeMounts) != 1 || !apiequality.Semantic.DeepEqual(c.VolumeMounts[0], want) {
				t.Errorf("container %s mounts %+v, want %+v", c.Name, c.VolumeMounts, want)
			}
		}
		if p := newPod("opted-out", new(false)); len(p.Spec.Volumes) != 0 {
			t.Errorf("pod with automountServiceAccountToken: false got volumes %+v", p.Spec.Volumes)
		}
		sa.AutomountServiceAccountToken = new(false)
		if _, err := sas.Update(ctx, sa, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if p := newPod("sa-opted-out", nil); len(p.Spec.Volumes) != 0 {
			t.Errorf("pod of a ServiceAccount with automountServiceAccountToken: false got volumes %+v", p.Spec.Volumes)
		}
		if p := newPod("pod-overrides", new(true)); len(p.Spec.Volumes) != 1 {
			t.Errorf("pod with automountServiceAccountToken: true got volumes %+v, want the token volume", p.Spec.Volumes)
		}
	})

	t.Run("bound to a pod", func(t *testing.T) {
		p, err := pods.Get(ctx, "with-token", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := sas.CreateToken(ctx, "default", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.Spec.BoundObjectRef.UID; got != p.UID {
			t.Errorf("bound object UID %q, want the pod's %q", got, p.UID)
		}
		if got := *tr.Spec.ExpirationSeconds; got != 3600 {
			t.Errorf("expirationSeconds %d, want the default 3600", got)
		}
		if !authenticates(tr.Status.Token) {
			t.Fatal("a token bound to a live pod is refused")
		}
		_, err = sas.CreateToken(ctx, "default", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: "other"}}},
			metav1.CreateOptions{})
		if !apierrors.IsConflict(err) {
			t.Errorf("binding to a stale pod UID: got %v, want 409", err)
		}
		if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, 30*time.Second, func() error {
			if authenticates(tr.Status.Token) {
				return errors.New("the token of a deleted pod is still accepted")
			}
			return nil
		})
	})
}

// TestAccessReviews checks the authorization.k8s.io reviews behind
// `kubectl auth can-i`: they answer what svcnet enforces today (every
// authenticated user may do everything) and validate as upstream does.
func TestAccessReviews(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ts := framework.Start(t, framework.Options{})
	if out := strings.TrimSpace(ts.MustKubectl(t, "", "", "auth", "can-i", "delete", "nodes")); out != "yes" {
		t.Errorf("kubectl auth can-i delete nodes: %q, want yes", out)
	}
	if out := ts.MustKubectl(t, "", "", "auth", "can-i", "--list"); !strings.Contains(out, "*.*") {
		t.Errorf("kubectl auth can-i --list:\n%s\nwant every resource", out)
	}
	// A ServiceAccount may not list Secrets; a member of system:masters
	// may; every authenticated user may review itself (system:basic-user).
	for _, tc := range []struct {
		user   string
		groups []string
		verb   string
		group  string
		res    string
		want   bool
	}{
		{"system:serviceaccount:default:default", nil, "list", "", "secrets", false},
		{"root", []string{"system:masters"}, "list", "", "secrets", true},
		{"system:serviceaccount:default:default", []string{"system:authenticated"}, "create", "authorization.k8s.io",
			"selfsubjectaccessreviews", true},
	} {
		sar, err := ts.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: tc.user, Groups: tc.groups,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: tc.verb, Group: tc.group, Resource: tc.res}}},
			metav1.CreateOptions{})
		if err != nil || sar.Status.Allowed != tc.want {
			t.Errorf("SubjectAccessReview %s %v %s %s: %+v %v, want allowed=%v", tc.user, tc.groups, tc.verb, tc.res, sar.Status, err, tc.want)
		}
	}
	invalid := []authorizationv1.SubjectAccessReviewSpec{
		{User: "u"}, // no attributes
		{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get"}}, // no user or group
		{User: "u", ResourceAttributes: &authorizationv1.ResourceAttributes{}, NonResourceAttributes: &authorizationv1.NonResourceAttributes{}},
	}
	for _, spec := range invalid {
		_, err := ts.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec},
			metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Errorf("SubjectAccessReview %+v: got %v, want 422", spec, err)
		}
	}
	if _, err := ts.Client.AuthorizationV1().LocalSubjectAccessReviews("default").Create(ctx, &authorizationv1.LocalSubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{User: "u",
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "other", Verb: "get", Resource: "pods"}}},
		metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("LocalSubjectAccessReview for another namespace: got %v, want 422", err)
	}
}
