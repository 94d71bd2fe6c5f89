package source

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestParseKinesisStart(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in      string
		want    KinesisStart
		wantErr string
	}{
		{in: "", want: KinesisStart{Type: types.ShardIteratorTypeTrimHorizon}},
		{in: "trim_horizon", want: KinesisStart{Type: types.ShardIteratorTypeTrimHorizon}},
		{in: "latest", want: KinesisStart{Type: types.ShardIteratorTypeLatest}},
		{in: "at_timestamp:-15m", want: KinesisStart{Type: types.ShardIteratorTypeAtTimestamp, At: now.Add(-15 * time.Minute)}},
		{in: "at_timestamp:2026-01-02T03:04:05Z", want: KinesisStart{Type: types.ShardIteratorTypeAtTimestamp, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
		{in: "at_sequence:49680790234844702744740549496732538487361451294705319954",
			want: KinesisStart{Type: types.ShardIteratorTypeAtSequenceNumber, Seq: "49680790234844702744740549496732538487361451294705319954"}},
		{in: "at_sequence:", wantErr: `invalid start "at_sequence:": the sequence number is not a decimal number`},
		{in: "at_sequence:-5", wantErr: `invalid start "at_sequence:-5": the sequence number is not a decimal number`},
		{in: "at_timestamp:soon", wantErr: `invalid start "at_timestamp:soon": invalid time "soon": expected RFC 3339 or a duration like -15m`},
		{in: "earliest", wantErr: `invalid start "earliest" (` + KinesisStartForms + `)`},
	} {
		got, err := ParseKinesisStart(tt.in, now)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseKinesisStart(%q) error = %v, want %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Type != tt.want.Type || !got.At.Equal(tt.want.At) || got.Seq != tt.want.Seq {
			t.Errorf("ParseKinesisStart(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestShardNumber(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want int32
		ok   bool
	}{
		{"shardId-000000000000", 0, true},
		{"shardId-000000000017", 17, true},
		{"shardId-", 0, false},
		{"shard-000000000001", 0, false},
		{"shardId-99999999999999", 0, false}, // beyond int32
		{"shardId--1", 0, false},
	} {
		got, err := ShardNumber(tt.id)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ShardNumber(%q) = %d, %v; want %d (ok %v)", tt.id, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseKinesisStart(f *testing.F) {
	for _, s := range []string{"trim_horizon", "latest", "at_timestamp:-15m", "at_sequence:1", "at_sequence:+1", "at_timestamp:2026-01-01T00:00:00Z"} {
		f.Add(s)
	}
	now := time.Unix(1e9, 0)
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseKinesisStart(s, now)
		if err != nil {
			return
		}
		switch st.Type {
		case types.ShardIteratorTypeTrimHorizon, types.ShardIteratorTypeLatest, types.ShardIteratorTypeAtTimestamp, types.ShardIteratorTypeAtSequenceNumber:
		default:
			t.Fatalf("ParseKinesisStart(%q) gave type %q", s, st.Type)
		}
	})
}
