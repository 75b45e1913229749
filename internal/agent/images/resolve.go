package images

import (
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// AgnhostCommand is the hidden subcommand of the svcnet binary that runs
// AgnhostMain.
const AgnhostCommand = "agnhost"

// agnhostImage is the repository of the upstream test image.
const agnhostImage = "registry.k8s.io/e2e-test-images/agnhost"

// IsAgnhost reports whether image names the agnhost test image (any tag).
func IsAgnhost(image string) bool {
	repo := image
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo == agnhostImage || strings.HasSuffix(repo, "/agnhost") || repo == "agnhost"
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
			return builtin(c.Args...)
		}
		if len(c.Command) > len(cmd) {
			return builtin(append(append([]string(nil), cmd...), c.Args...)...)
		}
	}
	if len(c.Command) > 0 || len(c.Args) > 0 {
		return append(append([]string(nil), c.Command...), c.Args...)
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
