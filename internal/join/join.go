package join

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/svcnet/svcnet/internal/pki"
)

// ErrNoCAHash means the token carries no CA hash, so the server's identity
// cannot be checked.
var ErrNoCAHash = errors.New("join token has no CA hash (want K10<hash>::server:<secret> or K10<hash>::<id>.<secret>)")

// maxCABytes bounds the /cacerts answer.
const maxCABytes = 1 << 20

// RESTConfig fetches and verifies the CA of server and returns a client
// configuration that authenticates with the token's secret.
func RESTConfig(ctx context.Context, server, token string) (*rest.Config, error) {
	hash, secret, err := pki.ParseToken(token)
	if err != nil {
		return nil, err
	}
	if hash == "" {
		return nil, ErrNoCAHash
	}
	caPEM, err := fetchCA(ctx, server)
	if err != nil {
		return nil, err
	}
	if err := pki.VerifyCA(caPEM, hash); err != nil {
		return nil, fmt.Errorf("server %s: %w", server, err)
	}
	return &rest.Config{
		Host:            server,
		BearerToken:     secret,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		UserAgent:       "svcnet-agent",
		QPS:             50, Burst: 100,
	}, nil
}

// fetchCA reads /cacerts without verifying the server: what it returns is
// trusted only once its hash matches the token.
func fetchCA(ctx context.Context, server string) ([]byte, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // checked against the token's hash below
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/cacerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch CA: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch CA: %s answered %s", server, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCABytes))
	if err != nil {
		return nil, fmt.Errorf("fetch CA: %w", err)
	}
	return data, nil
}
