package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/server"
	"github.com/svcnet/svcnet/test/integration/framework"
)

// TestMaxRequestsInFlight sends 2,000 concurrent LISTs with a
// ServiceAccount token to a server started with --max-requests-inflight=5:
// some are served, the rest get 429 with Retry-After, nothing else
// happens, and the server (and the exempt admin) goes on answering.
func TestMaxRequestsInFlight(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts := framework.Start(t, framework.Options{Modify: func(c *server.Config) { c.MaxRequestsInFlight = 5 }})
	if _, err := ts.Client.CoreV1().ServiceAccounts("default").Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "load"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Client.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "load-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "load"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := ts.Client.CoreV1().ServiceAccounts("default").CreateToken(ctx, "load", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ts.Config.CAData)
	// No client-go here: it would retry every 429 on its own.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
		MaxConnsPerHost: 100, ForceAttemptHTTP2: true}}
	// The view ClusterRole is built by aggregation: wait until it grants.
	framework.Eventually(t, 30*time.Second, func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.Config.Host+"/api/v1/namespaces/default/configmaps", nil)
		req.Header.Set("Authorization", "Bearer "+tr.Status.Token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the ServiceAccount's LIST got %s", resp.Status)
		}
		return nil
	})
	const n = 2000
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.Config.Host+"/api/v1/namespaces/default/configmaps", nil)
			req.Header.Set("Authorization", "Bearer "+tr.Status.Token)
			resp, err := client.Do(req)
			code := -1
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
				if code == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "1" {
					code = -429
				}
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("answers by status code: %v", codes)
	if codes[http.StatusOK] == 0 || codes[http.StatusTooManyRequests] == 0 || codes[http.StatusOK]+codes[http.StatusTooManyRequests] != n {
		t.Errorf("got %v, want only 200s and 429s with Retry-After, some of each", codes)
	}
	if _, err := ts.Client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("after the burst: %v", err)
	}
}
