package cmd

import (
	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	return &cobra.Command{Use: "demo", Short: "Run the demo", RunE: func(c *cobra.Command, _ []string) error { return nil }}
}
