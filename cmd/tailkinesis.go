package cmd

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/internal/recprint"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// addAWSFlags gives every command --aws-profile, the shared-config
// profile of Kinesis streams and S3 buckets (read back by awsProfile).
func addAWSFlags(root *cobra.Command) {
	root.PersistentFlags().String("aws-profile", "", "AWS shared-config `PROFILE` for Kinesis and S3 (default $AWS_PROFILE, else the standard credential chain)")
}

// kinesisURL is kinesis://STREAM[?region=R&endpoint=URL].
type kinesisURL struct{ stream, region, endpoint string }

// awsProfile is the invoked command's --aws-profile.
func awsProfile(c *cobra.Command) string {
	if f := c.Flag("aws-profile"); f != nil {
		return f.Value.String()
	}
	return ""
}

func parseKinesisURL(s string) (kinesisURL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "kinesis" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return kinesisURL{}, fmt.Errorf("%q: want kinesis://STREAM[?region=REGION&endpoint=URL]", s)
	}
	q := u.Query()
	for k := range q {
		if k != "region" && k != "endpoint" {
			return kinesisURL{}, fmt.Errorf("%q: unknown parameter %q (region, endpoint)", s, k)
		}
	}
	return kinesisURL{stream: u.Host, region: q.Get("region"), endpoint: q.Get("endpoint")}, nil
}

// kinesisStart maps tail's -o to a Kinesis start: the Kinesis forms, and
// earliest, latest and time:T as for a topic.
func kinesisStart(offsets []string) (string, error) {
	switch len(offsets) {
	case 0:
		return "trim_horizon", nil
	case 1:
	default:
		return "", errors.New("tail: a Kinesis stream takes one -o (no stop position; -e stops when caught up)")
	}
	o := offsets[0]
	switch {
	case o == "earliest" || o == "beginning":
		o = "trim_horizon"
	case o == "end":
		o = "latest"
	case strings.HasPrefix(o, "time:"):
		o = "at_timestamp:" + strings.TrimPrefix(o, "time:")
	case strings.HasPrefix(o, "@"):
		o = "at_timestamp:" + strings.TrimPrefix(o, "@")
	}
	if _, err := source.ParseKinesisStart(o, time.Now()); err != nil {
		return "", fmt.Errorf("tail -o: %w", err)
	}
	return o, nil
}

// runTailKinesis is eddy tail kinesis://STREAM: every shard, following
// reshards, until Ctrl-C (-e: until each shard is caught up).
func runTailKinesis(c *cobra.Command, f tailFlags, arg string) error {
	ku, err := parseKinesisURL(arg)
	if err != nil {
		return usageError{fmt.Errorf("tail: %w", err)}
	}
	if f.topic != "" || f.partition >= 0 {
		return usagef("tail: -t and -p are for topics; a Kinesis stream is read whole")
	}
	start, err := kinesisStart(f.offsets)
	if err != nil {
		return usageError{err}
	}
	if f.count < 0 {
		return usagef("tail: -c %d must not be negative", f.count)
	}
	out, err := recprint.New(c.OutOrStdout(), f.format)
	if err != nil {
		return usageError{fmt.Errorf("tail: -f %q: %w", f.format, err)}
	}
	var m *engine.Matcher
	if f.where != "" {
		if m, err = engine.NewMatcher(f.where); err != nil {
			return usageError{err}
		}
	}
	ctx := c.Context()
	cl, err := job.KinesisClient(ctx, ku.region, ku.endpoint, awsProfile(c))
	if err != nil {
		return err
	}
	stop := "none"
	if f.exit {
		stop = "caught-up"
	}
	src, err := source.OpenKinesis(ctx, cl, source.KinesisOptions{Stream: ku.stream, Start: start, Stop: stop})
	if err != nil {
		return err
	}
	defer src.Close()
	printed, skipped := 0, 0
	var firstErr error
	err = func() error {
		for f.count == 0 || printed < f.count {
			b, err := src.Next(ctx)
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case ctx.Err() != nil:
				return nil // Ctrl-C ends a follow normally
			case err != nil:
				return err
			}
			for i := range b.Records {
				r := &b.Records[i]
				if m != nil {
					ok, err := m.Match(r)
					if err != nil {
						if skipped == 0 {
							firstErr = err
						}
						skipped++
						continue
					}
					if !ok {
						continue
					}
				}
				out.PrintKinesis(r.Topic, sink.ShardID(r.Partition), r.Partition, r.Seq, r.Timestamp, r.Key, r.Value)
				if printed++; f.count > 0 && printed >= f.count {
					break
				}
			}
			src.Release(b)
			if err := out.Flush(); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
		return nil
	}()
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	if skipped > 0 {
		fmt.Fprintf(c.ErrOrStderr(), "eddy: skipped %d records the filter could not evaluate (first error: %v)\n", skipped, firstErr)
	}
	return err
}
