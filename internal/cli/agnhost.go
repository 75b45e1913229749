package cli

import (
	"github.com/spf13/cobra"

	"github.com/svcnet/svcnet/internal/agent/images"
)

// newAgnhostCommand returns the hidden command implementing the built-in
// agnhost image's subcommands (netexec, serve-hostname, pause, dns-suffix,
// dns-server-list), which the node agent runs for agnhost containers.
func newAgnhostCommand() *cobra.Command {
	return &cobra.Command{
		Use:                images.AgnhostCommand + " SUBCOMMAND [FLAGS]",
		Short:              "Built-in implementation of the agnhost test image",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return images.AgnhostMain(args, cmd.OutOrStdout())
		},
	}
}
