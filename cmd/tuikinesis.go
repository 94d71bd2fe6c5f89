package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/startpos"
	"github.com/eddyhq/eddy/tui"
)

// kinesisWorkbench fills the workbench's options for a Kinesis account
// (eddy tui -t kinesis://STREAM?region=&endpoint=): the Topics pane lists
// its streams with their open shards, and attaching reads a stream's
// shards as the Kinesis source does, following reshards.
func kinesisWorkbench(opts tui.Options, cl *kinesis.Client, ku kinesisURL) tui.Options {
	where := ku.region
	if ku.endpoint != "" {
		where = ku.endpoint
	}
	opts.Label = strings.TrimSpace("kinesis " + where)
	opts.Attach = ku.stream
	opts.Topics = func(ctx context.Context) ([]tui.TopicInfo, error) { return kinesisStreams(ctx, cl) }
	opts.Open = func(ctx context.Context, stream, start string) (source.Source, error) {
		return source.OpenKinesis(ctx, cl, source.KinesisOptions{Stream: stream, Start: workbenchKinesisStart(start), Stop: "none"})
	}
	return opts
}

// workbenchKinesisStart maps the workbench's start positions onto Kinesis:
// a stream has no offsets, so last:N and offset:N read from the trim
// horizon, as earliest does.
func workbenchKinesisStart(start string) string {
	p, err := startpos.Parse(start)
	if err != nil {
		return "trim_horizon"
	}
	switch p.Kind {
	case startpos.Latest:
		return "latest"
	case startpos.Time:
		return "at_timestamp:" + time.UnixMilli(p.Millis(time.Now())).UTC().Format(time.RFC3339Nano)
	}
	return "trim_horizon"
}

// kinesisStreams lists the account's streams with their open shards.
// Pages follow NextToken, or, from a server that answers HasMoreStreams
// without one (moto does), the last name as ExclusiveStartStreamName, as
// the API allowed before NextToken existed.
func kinesisStreams(ctx context.Context, cl *kinesis.Client) ([]tui.TopicInfo, error) {
	var out []tui.TopicInfo
	in := &kinesis.ListStreamsInput{}
	for {
		page, err := cl.ListStreams(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list streams: %w", err)
		}
		for _, name := range page.StreamNames {
			info := tui.TopicInfo{Name: name, Messages: -1}
			if d, err := cl.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name}); err == nil && d.StreamDescriptionSummary.OpenShardCount != nil {
				info.Partitions = int(*d.StreamDescriptionSummary.OpenShardCount)
			}
			out = append(out, info)
		}
		switch {
		case page.NextToken != nil && *page.NextToken != "":
			in = &kinesis.ListStreamsInput{NextToken: page.NextToken}
		case aws.ToBool(page.HasMoreStreams) && len(page.StreamNames) > 0:
			in = &kinesis.ListStreamsInput{ExclusiveStartStreamName: aws.String(page.StreamNames[len(page.StreamNames)-1])}
		default:
			return out, nil
		}
	}
}
