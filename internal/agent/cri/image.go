package cri

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Waiting reasons of a container whose image is not there, as kubelet
// reports them.
const (
	ReasonErrImagePull      = "ErrImagePull"
	ReasonImagePullBackOff  = "ImagePullBackOff"
	ReasonInvalidImageName  = "InvalidImageName"
	ReasonErrImageNeverPull = "ErrImageNeverPull"
)

// waitingError is a failure to start a container that the container's
// waiting state reports (reason and message).
type waitingError struct {
	reason, msg string
}

func (e *waitingError) Error() string { return e.reason + ": " + e.msg }

// Auths holds registry credentials by registry host (docker.io for Docker
// Hub), from a pod's imagePullSecrets.
type Auths map[string]*runtimeapi.AuthConfig

// AddSecret adds the credentials of a kubernetes.io/dockerconfigjson or
// kubernetes.io/dockercfg Secret; other Secrets add nothing. Entries already
// present win, as the first matching imagePullSecret does under kubelet.
func (a Auths) AddSecret(s *v1.Secret) error {
	type entry struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Auth     string `json:"auth"`
	}
	var entries map[string]entry
	switch s.Type {
	case v1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]entry `json:"auths"`
		}
		if err := json.Unmarshal(s.Data[v1.DockerConfigJsonKey], &cfg); err != nil {
			return fmt.Errorf("secret %s: %w", s.Name, err)
		}
		entries = cfg.Auths
	case v1.SecretTypeDockercfg:
		if err := json.Unmarshal(s.Data[v1.DockerConfigKey], &entries); err != nil {
			return fmt.Errorf("secret %s: %w", s.Name, err)
		}
	default:
		return nil
	}
	for key, e := range entries {
		host := registryHost(key)
		if _, ok := a[host]; ok || host == "" {
			continue
		}
		user, pass := e.Username, e.Password
		if e.Auth != "" && user == "" {
			if b, err := base64.StdEncoding.DecodeString(e.Auth); err == nil {
				user, pass, _ = strings.Cut(string(b), ":")
			}
		}
		a[host] = &runtimeapi.AuthConfig{Username: user, Password: pass, ServerAddress: host}
	}
	return nil
}

// registryHost normalises a docker config key ("https://index.docker.io/v1/",
// "registry.example:5000") to a registry host.
func registryHost(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	key, _, _ = strings.Cut(key, "/")
	switch key {
	case "index.docker.io", "registry-1.docker.io":
		return name.DefaultRegistry
	}
	return key
}

// imageFor returns the credentials for image's registry (nil: none).
func (a Auths) imageFor(image string) *runtimeapi.AuthConfig {
	ref, err := name.ParseReference(image)
	if err != nil || a == nil {
		return nil
	}
	host := ref.Context().RegistryStr()
	if host == "index.docker.io" {
		host = name.DefaultRegistry
	}
	return a[host]
}

// ensureImage makes image present as policy says and returns its status.
func (r *Runtime) ensureImage(ctx context.Context, image string, policy v1.PullPolicy, auths Auths,
	sandbox *runtimeapi.PodSandboxConfig) (*runtimeapi.Image, error) {
	if _, err := name.ParseReference(image); err != nil || image == "" {
		return nil, &waitingError{ReasonInvalidImageName, fmt.Sprintf("Failed to apply default image tag %q: %v", image, err)}
	}
	spec := &runtimeapi.ImageSpec{Image: image}
	if policy == "" {
		policy = v1.PullIfNotPresent
		if ref, _ := name.ParseReference(image); ref != nil && ref.Identifier() == "latest" {
			policy = v1.PullAlways
		}
	}
	// One pull of an image at a time; the others wait and then find it.
	r.pullMu.Lock()
	mu, ok := r.pulls[image]
	if !ok {
		mu = &sync.Mutex{}
		r.pulls[image] = mu
	}
	r.pullMu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	st, err := r.is.ImageStatus(ctx, spec, false)
	if err != nil {
		return nil, &waitingError{ReasonErrImagePull, err.Error()}
	}
	present := st.GetImage() != nil
	switch {
	case policy == v1.PullNever && !present:
		return nil, &waitingError{ReasonErrImageNeverPull,
			fmt.Sprintf("Container image %q is not present with pull policy of Never", image)}
	case present && policy != v1.PullAlways:
		return st.Image, nil
	}
	pctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	if _, err := r.is.PullImage(pctx, spec, auths.imageFor(image), sandbox); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &waitingError{ReasonErrImagePull, fmt.Sprintf("failed to pull image %q: %v", image, err)}
	}
	if st, err = r.is.ImageStatus(ctx, spec, false); err != nil || st.GetImage() == nil {
		return nil, &waitingError{ReasonErrImagePull, fmt.Sprintf("image %q not found after pulling it: %v", image, err)}
	}
	return st.Image, nil
}
