// Package images provides svcnet's built-in container images, so pod specs
// need no registry: registry.k8s.io/e2e-test-images/agnhost runs svcnet's
// own implementation of agnhost subcommands; any other image runs the
// container's command/args on the host. An image with neither runs:
//   - for bprashanth/nginxhttps, or an nginx image mounting something at
//     /etc/nginx/conf.d or /etc/nginx/ssl: a built-in nginx serving the
//     welcome page on the listen ports of /etc/nginx/conf.d/*.conf (HTTPS
//     for "listen ... ssl" with ssl_certificate/ssl_certificate_key), or by
//     default HTTP on 80 and HTTPS on 443 with /etc/nginx/ssl/tls.crt and
//     tls.key, all read inside the container's mount namespace;
//   - for busybox, busyboxplus, alpine, ubuntu and debian: the host's sh
//     (which, without stdin, exits at once, as in a container); for
//     curlimages/curl: the host's curl;
//   - otherwise (nginx, ...): a small HTTP server answering its hostname on
//     every declared TCP containerPort.
package images
