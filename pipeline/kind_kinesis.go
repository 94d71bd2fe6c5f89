package pipeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/eddyhq/eddy/startpos"
)

func init() {
	register(&Kind{
		Name: "kinesis", Role: AsSource, Order: 25,
		Doc: "Reads an Amazon Kinesis data stream with the AWS SDK, each shard a partition with its own watermark, following reshards (a parent shard is read to its end before its children) or up to `caught-up`.",
		Fields: []Field{
			{Name: "stream", Type: StringValue, Required: true, NonEmpty: true,
				Doc: "the stream to read"},
			{Name: "region", Type: StringValue, DefaultDoc: "`AWS_REGION` or the profile's region",
				Doc: "the stream's AWS region"},
			{Name: "endpoint", Type: StringValue, DefaultDoc: "AWS's endpoint for the region",
				Doc: "the Kinesis endpoint URL, for an emulator or a VPC endpoint"},
			{Name: "start", Type: StringValue, Default: "trim_horizon", Check: checkKinesisStart,
				Doc: "where each shard starts: `trim_horizon`, `latest`, `at_timestamp:RFC3339`, `at_timestamp:-15m` or `at_sequence:SEQUENCE`"},
			{Name: "stop", Type: StringValue, Default: "none", Check: checkKinesisStop,
				Doc: "where reading ends: `none` (follow) or `caught-up` (each shard when a read finds it has nothing more)"},
		},
		bind: configIn(func(s *Source) **KinesisSource { return &s.Kinesis }),
	})

	register(&Kind{
		Name: "kinesis", Role: AsSink | AsDeadLetter, Order: 25,
		Doc: "Puts each row (or dead letter, as its JSON object) as a record into a Kinesis stream with PutRecords, in calls of at most 500 records and 5 MiB, retrying the records a call rejects.",
		Fields: []Field{
			{Name: "stream", Type: StringValue, Required: true, NonEmpty: true,
				Doc: "the stream to write"},
			{Name: "region", Type: StringValue, DefaultDoc: "`AWS_REGION` or the profile's region",
				Doc: "the stream's AWS region"},
			{Name: "endpoint", Type: StringValue, DefaultDoc: "AWS's endpoint for the region",
				Doc: "the Kinesis endpoint URL, for an emulator or a VPC endpoint"},
			{Name: "key", Type: ListValue, Roles: AsSink, DefaultDoc: "none: rows spread over the shards",
				Doc: "output fields whose values form the partition key"},
		},
		bind: configIn(func(t *Target) **KinesisTarget { return &t.Kinesis }),
	})
}

// KinesisTarget puts rows into a Kinesis stream.
type KinesisTarget struct {
	Stream   string
	Region   string
	Endpoint string
	Key      []string // output fields forming the partition key; empty: spread
}

// KinesisSource reads a Kinesis data stream.
type KinesisSource struct {
	Stream   string
	Region   string // "": AWS_REGION or the profile's
	Endpoint string // "": AWS's
	Start    string // trim_horizon (default) | latest | at_timestamp:T | at_sequence:SEQ
	Stop     string // none (default) | caught-up
}

func checkKinesisStart(s string) error {
	switch {
	case s == "trim_horizon", s == "latest":
		return nil
	case strings.HasPrefix(s, "at_timestamp:"):
		if _, err := startpos.TimeMillis(strings.TrimPrefix(s, "at_timestamp:"), time.Unix(0, 0)); err != nil {
			return fmt.Errorf("invalid start %q: %v", s, err)
		}
		return nil
	case strings.HasPrefix(s, "at_sequence:"):
		seq := strings.TrimPrefix(s, "at_sequence:")
		if seq == "" || strings.Trim(seq, "0123456789") != "" || len(seq) > 128 {
			return fmt.Errorf("invalid start %q: the sequence number is not a decimal number", s)
		}
		return nil
	}
	return fmt.Errorf("invalid start %q (trim_horizon, latest, at_timestamp:RFC3339, at_timestamp:-15m or at_sequence:SEQUENCE)", s)
}

func checkKinesisStop(s string) error {
	if s != "none" && s != "caught-up" {
		return fmt.Errorf("invalid stop %q (none or caught-up)", s)
	}
	return nil
}
