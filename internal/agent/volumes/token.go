package volumes

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultTokenSeconds is the lifetime of a projected token whose source
// names none (upstream's default for ServiceAccountTokenProjection).
const defaultTokenSeconds = 60 * 60

// refreshFraction of a token's lifetime passes before it is replaced, as
// kubelet's token manager does (80%), so a pod always holds a token with
// a fifth of its life left.
const refreshFraction = 0.8

// cachedToken is a token issued for one projection of the pod.
type cachedToken struct {
	token              string
	expires, refreshAt time.Time
}

// serviceAccountToken returns the token file of a serviceAccountToken
// projection: a token of the pod's ServiceAccount, bound to the pod,
// requested through TokenRequest and kept until refreshFraction of its
// lifetime has passed. A failed refresh keeps the old token while it is
// valid.
func (m *Manager) serviceAccountToken(ctx context.Context, pod *v1.Pod, src *v1.ServiceAccountTokenProjection, mode os.FileMode) (map[string]File, error) {
	secs := int64(defaultTokenSeconds)
	if src.ExpirationSeconds != nil {
		secs = *src.ExpirationSeconds
	}
	key := string(pod.UID) + "|" + src.Audience + "|" + strconv.FormatInt(secs, 10)
	now := m.cfg.Now()
	m.mu.Lock()
	cached, ok := m.tokens[key]
	m.mu.Unlock()
	if !ok || !now.Before(cached.refreshAt) {
		fresh, err := m.requestToken(ctx, pod, src.Audience, secs)
		switch {
		case err == nil:
			cached = fresh
			m.mu.Lock()
			m.tokens[key] = fresh
			m.mu.Unlock()
		case !ok || !now.Before(cached.expires):
			return nil, err
		}
	}
	return map[string]File{src.Path: {Data: []byte(cached.token), Mode: mode}}, nil
}

func (m *Manager) requestToken(ctx context.Context, pod *v1.Pod, audience string, secs int64) (cachedToken, error) {
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &secs,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if audience != "" {
		tr.Spec.Audiences = []string{audience}
	}
	sa := pod.Spec.ServiceAccountName
	out, err := m.cfg.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return cachedToken{}, fmt.Errorf("failed to fetch token: %w", err)
	}
	issued := m.cfg.Now()
	exp := out.Status.ExpirationTimestamp.Time
	life := exp.Sub(issued)
	return cachedToken{token: out.Status.Token, expires: exp,
		refreshAt: issued.Add(time.Duration(float64(life) * refreshFraction))}, nil
}
