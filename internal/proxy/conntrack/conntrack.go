package conntrack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"

	"github.com/svcnet/svcnet/internal/proxy"
)

// Config configures a CLI.
type Config struct {
	// Path is the conntrack binary ("" looks up "conntrack" in PATH).
	Path   string
	Logger *slog.Logger
}

// CLI deletes entries by running `conntrack -D`. It implements proxy.Conntrack.
type CLI struct {
	path string
	log  *slog.Logger
}

var _ proxy.Conntrack = (*CLI)(nil)

// New finds the conntrack binary.
func New(cfg Config) (*CLI, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	path := cfg.Path
	if path == "" {
		path = "conntrack"
	}
	full, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("conntrack: %w", err)
	}
	return &CLI{path: full, log: cfg.Logger}, nil
}

// Args returns the conntrack arguments deleting the entries of f.
func Args(f proxy.StaleFlow) []string {
	args := []string{"-D", "-p", "udp"}
	if f.OrigDst != "" {
		args = append(args, "--orig-dst", f.OrigDst)
	}
	args = append(args, "--orig-port-dst", strconv.Itoa(int(f.Port)))
	if f.Endpoint != "" {
		// The reply source of a DNATed flow is the endpoint. Unlike
		// --dst-nat this does not depend on the entry's NAT status bit.
		args = append(args, "--reply-src", f.Endpoint)
	}
	return args
}

// noneDeleted is how conntrack reports an empty match, with exit status 1.
var noneDeleted = []byte("0 flow entries have been deleted")

// DeleteUDP runs one conntrack command per flow. Flows matching no entry
// are not errors; the first real failure is returned after trying them all.
func (c *CLI) DeleteUDP(ctx context.Context, flows []proxy.StaleFlow) error {
	var errs []error
	for _, f := range flows {
		out, err := exec.CommandContext(ctx, c.path, Args(f)...).CombinedOutput()
		if err != nil && !bytes.Contains(out, noneDeleted) {
			errs = append(errs, fmt.Errorf("conntrack %v: %w: %s", Args(f), err, bytes.TrimSpace(out)))
			continue
		}
		if err == nil {
			c.log.Debug("Deleted stale conntrack entries", "origDst", f.OrigDst, "port", f.Port, "endpoint", f.Endpoint)
		}
	}
	return errors.Join(errs...)
}
