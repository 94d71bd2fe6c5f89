package cmd

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/kcfg"
)

func newContextsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "contexts",
		Short: "List the named clusters of eddy's config file",
		Long: `contexts lists the named clusters (contexts) of eddy's config file
($EDDY_CONFIG, else ~/.config/eddy/config.yaml), marking with * the one
commands use when neither --context nor $EDDY_CONTEXT names one. See
docs/kafka.md for the file's keys.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			path := kcfg.DefaultContextsPath(os.Getenv)
			cs, err := kcfg.LoadContexts(path)
			if err != nil {
				return usageError{err}
			}
			if cs == nil || len(cs.Names) == 0 {
				fmt.Fprintf(c.ErrOrStderr(), "eddy: no contexts in %s\n", path)
				return nil
			}
			current := cs.Current
			if env := os.Getenv("EDDY_CONTEXT"); env != "" {
				current = env
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "CURRENT\tNAME\tBROKERS\tPROPERTIES FILE")
			for _, name := range cs.Names {
				ctx, _ := cs.Select(name)
				mark := ""
				if name == current {
					mark = "*"
				}
				file := ctx.KafkaFile
				if file == "" {
					file = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", mark, name, strings.Join(ctx.Brokers, ","), file)
			}
			return w.Flush()
		},
	}
}
