// Package images provides svcnet's built-in container images, so pod specs
// need no registry: registry.k8s.io/e2e-test-images/agnhost runs svcnet's
// own implementation of agnhost subcommands; any other image runs the
// container's command/args on the host; an image with neither (nginx, ...)
// runs a small HTTP server answering its hostname on every declared TCP
// containerPort.
package images
