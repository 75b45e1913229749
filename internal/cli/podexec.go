package cli

import (
	"github.com/spf13/cobra"

	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// newPodExecCommand returns the hidden helper the node agent re-executes to
// start a container process inside a pod's namespaces. It must stay a fresh,
// single-purpose process: it joins the pod's network namespace, sets up the
// mounts and hostname, then replaces itself with the container program.
// Run with --exit-file it is instead a container's supervising parent: it
// starts the helper, waits for it and records its exit status.
func newPodExecCommand() *cobra.Command {
	return &cobra.Command{
		Use:                runtime.HelperCommand + " --netns PATH --hostname NAME --resolv FILE --hosts FILE -- PROGRAM [ARGS...]",
		Short:              "Run a program inside a pod's namespaces (used by the node agent)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			return runtime.HelperMain(args)
		},
	}
}
