package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/internal/flinkgw"
	"github.com/eddyhq/eddy/pipeline"
)

func newDeployCmd() *cobra.Command {
	var fo flinkFlags
	var gateway, status, cancel string
	var timeout time.Duration
	var dryRun bool
	c := &cobra.Command{
		Use:   "deploy PIPELINE.yaml --flink URL | deploy --status JOB | deploy --cancel JOB",
		Short: "Submit a pipeline to a Flink cluster through its SQL Gateway; follow or cancel the job",
		Long: `deploy translates the pipeline to Flink SQL (the script of
"eddy sql --dialect flink"), opens a session on the Flink SQL Gateway at
--flink (default $EDDY_FLINK_GATEWAY), submits the statements one by one,
waits for each operation and prints the id of the job the INSERT started.

--status JOB prints the job's status (as SHOW JOBS reports it); --cancel JOB
stops it (STOP JOB). --parallelism and --checkpoint-interval become the
job's parallelism.default and execution.checkpointing.interval.

A pipeline that cannot be translated is refused before anything is sent
(exit status 2); a gateway that cannot be reached is retried a few times,
then named in the error (exit status 1). See docs/production.md.`,
		Example: `  eddy deploy pipeline.yaml --flink http://flink-gateway:8083 -b kafka:9092 --sink-topic bids.out
  eddy deploy --status 3f1c... --flink http://flink-gateway:8083
  eddy deploy --cancel 3f1c... --flink http://flink-gateway:8083`,
		RunE: func(c *cobra.Command, args []string) error {
			if gateway == "" {
				gateway = os.Getenv("EDDY_FLINK_GATEWAY")
			}
			if gateway == "" {
				return usagef("no gateway: give --flink URL or set EDDY_FLINK_GATEWAY")
			}
			gw, err := flinkgw.New(gateway)
			if err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt)
			defer stop()
			if timeout > 0 {
				var cancelCtx context.CancelFunc
				ctx, cancelCtx = context.WithTimeout(ctx, timeout)
				defer cancelCtx()
			}
			out := c.OutOrStdout()
			if status != "" || cancel != "" {
				if len(args) > 0 || (status != "" && cancel != "") {
					return usagef("--status and --cancel take a job id alone\nUsage: %s", c.UseLine())
				}
				return jobCommand(ctx, gw, status, cancel, out)
			}
			if len(args) != 1 {
				return usagef("deploy needs one pipeline file\nUsage: %s", c.UseLine())
			}
			p, err := pipeline.Load(args[0])
			if err != nil {
				return usageError{err}
			}
			plan, err := pipeline.Compile(p)
			if err != nil {
				return usageError{err}
			}
			o, err := fo.options(c, p)
			if err != nil {
				return err
			}
			script, err := pipeline.FlinkSQL(plan, o)
			if err != nil {
				return usageError{err}
			}
			stmts := flinkgw.Split(script)
			if dryRun {
				for _, s := range stmts {
					fmt.Fprintln(out, s+";")
				}
				return nil
			}
			name := p.Name
			if name == "" {
				name = "eddy"
			}
			sess, err := gw.Open(ctx, "eddy: "+name, nil)
			if err != nil {
				return err
			}
			defer func() {
				cctx, cc := context.WithTimeout(context.Background(), 10*time.Second)
				defer cc()
				_ = sess.Close(cctx)
			}()
			var job string
			for i, s := range stmts {
				r, err := sess.Execute(ctx, s)
				if err != nil {
					return fmt.Errorf("statement %d of %d (%s): %w", i+1, len(stmts), firstWords(s), err)
				}
				if r.JobID != "" {
					job = r.JobID
				}
			}
			if job == "" {
				return errors.New("flink SQL gateway: the script ran but no job id came back")
			}
			fmt.Fprintf(c.ErrOrStderr(), "eddy: deployed %s to %s (%d statements)\n", args[0], gateway, len(stmts))
			_, err = fmt.Fprintln(out, job)
			return err
		},
	}
	fo.add(c)
	c.Flags().StringVar(&gateway, "flink", "", "Flink SQL Gateway `URL` (default $EDDY_FLINK_GATEWAY)")
	c.Flags().StringVar(&status, "status", "", "print the status of the Flink `JOB`")
	c.Flags().StringVar(&cancel, "cancel", "", "stop the Flink `JOB`")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the statements that would be submitted (with secrets) and submit nothing")
	return c
}

func firstWords(s string) string {
	f := strings.Fields(s)
	if len(f) > 4 {
		f = f[:4]
	}
	return strings.Join(f, " ")
}

func jobCommand(ctx context.Context, gw *flinkgw.Client, status, cancel string, out interface{ Write([]byte) (int, error) }) error {
	id := status
	if cancel != "" {
		id = cancel
	}
	if strings.Trim(strings.ToLower(id), "0123456789abcdef") != "" || len(id) != 32 {
		return usagef("job id %q: want 32 hexadecimal digits", id)
	}
	sess, err := gw.Open(ctx, "eddy deploy", nil)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cc := context.WithTimeout(context.Background(), 10*time.Second)
		defer cc()
		_ = sess.Close(cctx)
	}()
	if cancel != "" {
		if _, err := sess.Execute(ctx, "STOP JOB '"+id+"'"); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "%s\tCANCELED\n", id)
		return err
	}
	jobs, err := sess.Jobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.ID == id {
			_, err := fmt.Fprintf(out, "%s\t%s\t%s\t%s\n", j.ID, j.Status, j.Name, j.Start)
			return err
		}
	}
	return fmt.Errorf("no job %s on the cluster", id)
}
