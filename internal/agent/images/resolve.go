package images

import (
	"path"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// AgnhostCommand is the hidden subcommand of the svcnet binary that runs
// AgnhostMain.
const AgnhostCommand = "agnhost"

// agnhostImage is the repository of the upstream test image.
const agnhostImage = "registry.k8s.io/e2e-test-images/agnhost"

// repository returns image without its tag and digest.
func repository(image string) string {
	repo := image
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo
}

// IsAgnhost reports whether image names the agnhost test image (any tag).
func IsAgnhost(image string) bool {
	repo := repository(image)
	return repo == agnhostImage || strings.HasSuffix(repo, "/agnhost") || repo == "agnhost"
}

// shellImages are images whose default command is a shell (busybox's sh):
// without a command they run the host's sh.
var shellImages = map[string]bool{"busybox": true, "busyboxplus": true, "alpine": true, "ubuntu": true, "debian": true}

// isNginxHTTPS reports whether c runs the built-in nginx: the nginxhttps
// image of the Kubernetes examples (bprashanth/nginxhttps), or an nginx
// image given a configuration or key pair under /etc/nginx. A plain nginx
// container keeps serving its hostname.
func isNginxHTTPS(c *v1.Container) bool {
	name := path.Base(repository(c.Image))
	if name == "nginxhttps" {
		return true
	}
	if !strings.HasPrefix(name, "nginx") {
		return false
	}
	for _, m := range c.VolumeMounts {
		if p := path.Clean(m.MountPath); p == NginxConfDir || p == "/etc/nginx/ssl" {
			return true
		}
	}
	return false
}

// Argv returns the program a container runs. self is the svcnet binary
// followed by the arguments selecting a subcommand root (e.g.
// ["/proc/self/exe"]); the result for built-in behaviour starts with it.
func Argv(c *v1.Container, self []string) []string {
	builtin := func(args ...string) []string {
		return append(append(append([]string(nil), self...), AgnhostCommand), args...)
	}
	if IsAgnhost(c.Image) {
		cmd := c.Command
		// The image's entrypoint is /agnhost; a command naming it selects
		// the built-in implementation.
		if len(cmd) > 0 && (cmd[0] == "/agnhost" || cmd[0] == "agnhost") {
			cmd = cmd[1:]
		}
		if len(cmd) == 0 {
			if len(c.Args) == 0 {
				return builtin("pause")
			}
			return builtin(withServeDirs(c, c.Args)...)
		}
		if len(c.Command) > len(cmd) {
			return builtin(withServeDirs(c, append(append([]string(nil), cmd...), c.Args...))...)
		}
	}
	if len(c.Command) > 0 || len(c.Args) > 0 {
		return append(append([]string(nil), c.Command...), c.Args...)
	}
	switch name := path.Base(repository(c.Image)); {
	case isNginxHTTPS(c):
		return builtin("nginx")
	case shellImages[name]:
		return []string{"sh"}
	case name == "curl":
		return []string{"curl"}
	}
	var ports []string
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == v1.ProtocolTCP {
			ports = append(ports, strconv.Itoa(int(p.ContainerPort)))
		}
	}
	if len(ports) == 0 {
		return builtin("pause")
	}
	return builtin("serve-hostname", "--http=true", "--port="+strings.Join(ports, ","))
}

// ExecArgv returns what `kubectl exec` runs in a container of image:
// command as given, except that /agnhost (the agnhost image's binary)
// selects the built-in implementation, as the container's own command
// does. self is as for Argv.
func ExecArgv(image string, command, self []string) []string {
	if !IsAgnhost(image) || len(command) == 0 || (command[0] != "/agnhost" && command[0] != "agnhost") {
		return command
	}
	return append(append(append([]string(nil), self...), AgnhostCommand), command[1:]...)
}

// serviceAccountDir is where pods find their API token.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// withServeDirs gives the built-in test-webserver the container's volume
// mounts as the only directories it may serve.
func withServeDirs(c *v1.Container, args []string) []string {
	if len(args) == 0 || args[0] != "test-webserver" {
		return args
	}
	out := append([]string(nil), args...)
	for _, m := range c.VolumeMounts {
		// Not the API credentials admission mounts in every pod.
		if path.Clean(m.MountPath) != serviceAccountDir {
			out = append(out, "--serve-dir="+m.MountPath)
		}
	}
	return out
}
