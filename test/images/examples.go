package testimages

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// References of the application images the manifests of examples/ name
// (built with Config.Examples). Where upstream's image does something
// simple and known, these do it; the others answer HTTP with their pod's
// name, which is what docs/walkthrough.md shows of them.
const (
	// BusyboxPlusCurl is busybox with curl (radial/busyboxplus:curl), the
	// client of examples/13-curlpod.yaml.
	BusyboxPlusCurl = "docker.io/radial/busyboxplus:curl"
	// K8sBook is the web application of The Kubernetes Book
	// (examples/04-hello-nodeport.yaml): its hostname on port 8080.
	K8sBook = "docker.io/nigelpoulton/k8sbook:latest"
	// Whoami is examples/05-multi-port.yaml's server: its hostname over
	// plain HTTP on ports 8080 and 8443.
	Whoami = "docker.io/library/whoami:latest"
	// Biz1V41 and Biz1V42 are the two versions of examples/06-blue-green.yaml:
	// the hostname on port 8080 and the version at /version.
	Biz1V41 = "docker.io/library/biz1:4.1"
	Biz1V42 = "docker.io/library/biz1:4.2"
)

// serveHostnamePath is where the application images keep the hostname
// program; not /bin/hostname, busybox's.
const serveHostnamePath = "/usr/local/bin/serve-hostname"

// busyboxPlusCurl is busybox plus the host's curl with its libraries, as
// radial/busyboxplus:curl is busybox built with curl.
func (b *builder) busyboxPlusCurl(context.Context) (v1.Image, []string, error) {
	base, err := b.busyboxBase()
	if err != nil {
		return nil, nil, err
	}
	files := map[string]File{}
	if err := addHostTools(files, map[string]string{"curl": "curl"}); err != nil {
		return nil, nil, fmt.Errorf("busyboxplus: %w", err)
	}
	l, err := b.layer(files)
	if err != nil {
		return nil, nil, err
	}
	img, err := newImage(v1.Config{Cmd: []string{"/bin/sh"}, Env: []string{defaultPath}, WorkingDir: "/"},
		[]v1.Layer{base, l}, []string{"ADD busybox /", "ADD curl /"})
	return img, []string{BusyboxPlusCurl}, err
}

// hostnameApp returns the build of an image running the hostname program
// (test/images/hostname) on busybox with args, listening on ports.
func (b *builder) hostnameApp(ref string, ports []string, args ...string) func(context.Context) (v1.Image, []string, error) {
	return func(ctx context.Context) (v1.Image, []string, error) {
		bin, err := buildHostname(ctx, b.cfg.CacheDir, b.log)
		if err != nil {
			return nil, nil, err
		}
		base, err := b.busyboxBase()
		if err != nil {
			return nil, nil, err
		}
		l, err := b.layer(map[string]File{serveHostnamePath: {Mode: 0o755, Source: bin}})
		if err != nil {
			return nil, nil, err
		}
		exposed := map[string]struct{}{}
		for _, p := range ports {
			exposed[p+"/tcp"] = struct{}{}
		}
		img, err := newImage(v1.Config{
			Cmd:          append([]string{serveHostnamePath}, args...),
			Env:          []string{defaultPath},
			WorkingDir:   "/",
			ExposedPorts: exposed,
		}, []v1.Layer{base, l}, []string{"ADD busybox /", "COPY serve-hostname " + serveHostnamePath})
		return img, []string{ref}, err
	}
}

// exampleSteps are the Build steps of the examples' images.
func (b *builder) exampleSteps() []buildStep {
	return []buildStep{
		{name: "busyboxplus", build: b.busyboxPlusCurl},
		{name: "k8sbook", build: b.hostnameApp(K8sBook, []string{"8080"}, "-port=8080")},
		{name: "whoami", build: b.hostnameApp(Whoami, []string{"8080", "8443"}, "-port=8080,8443")},
		{name: "biz1:4.1", build: b.hostnameApp(Biz1V41, []string{"8080"}, "-port=8080", "-version=4.1")},
		{name: "biz1:4.2", build: b.hostnameApp(Biz1V42, []string{"8080"}, "-port=8080", "-version=4.2")},
	}
}
