package bootstraptoken

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/svcnet/svcnet/internal/controller/controllertest"
)

var now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func secret(ns string, typ corev1.SecretType, expiration string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: ns, UID: "uid-1"}, Type: typ,
		Data: map[string][]byte{"token-id": []byte("abcdef"), "token-secret": []byte("0123456789abcdef")}}
	if expiration != "" {
		s.Data["expiration"] = []byte(expiration)
	}
	return s
}

func TestCleaner(t *testing.T) {
	const token = corev1.SecretType("bootstrap.kubernetes.io/token")
	past, future := now.Add(-time.Second).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		name        string
		secret      *corev1.Secret
		wantDeleted bool
	}{
		{name: "expired", secret: secret("kube-system", token, past), wantDeleted: true},
		{name: "unparseable expiration", secret: secret("kube-system", token, "soon"), wantDeleted: true},
		{name: "not expired yet", secret: secret("kube-system", token, future)},
		{name: "no expiration", secret: secret("kube-system", token, "")},
		{name: "another type", secret: secret("kube-system", corev1.SecretTypeOpaque, past)},
		{name: "another namespace", secret: secret("default", token, past)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := controllertest.NewClient(tc.secret)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			factory := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: factory, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			factory.Start(ctx.Done())
			factory.WaitForCacheSync(ctx.Done())
			if err := c.sync(ctx, tc.secret.Namespace+"/"+tc.secret.Name); err != nil {
				t.Fatalf("sync: %v", err)
			}
			_, err = client.CoreV1().Secrets(tc.secret.Namespace).Get(ctx, tc.secret.Name, metav1.GetOptions{})
			if deleted := apierrors.IsNotFound(err); deleted != tc.wantDeleted {
				t.Errorf("deleted %v (%v), want %v", deleted, err, tc.wantDeleted)
			}
		})
	}
}
