// Package awsconf loads the AWS SDK configuration eddy's Kinesis and S3
// clients use: the standard credential chain (environment, shared config
// and credentials files, a named profile, container and instance
// metadata), a region, and an endpoint for emulators and S3-compatible
// stores.
package awsconf

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Options say which account and where.
type Options struct {
	// Region overrides AWS_REGION and the profile's region.
	Region string
	// Profile is a shared-config profile (--aws-profile); "" means
	// AWS_PROFILE or the default profile.
	Profile string
	// Endpoint replaces the service's endpoint (http://127.0.0.1:4566 for
	// an emulator); "" keeps AWS's.
	Endpoint string
}

// MaxAttempts bounds the SDK's own retries of a call (throttling, 5xx,
// connection errors), with its exponential backoff and jitter; the
// callers add bounded retries of their own above it.
const MaxAttempts = 6

// Load resolves the configuration. It does not call AWS: missing
// credentials show at the first request.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(s *retry.StandardOptions) { s.MaxAttempts = MaxAttempts })
		}),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(o.Endpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if o.Profile != "" {
			return aws.Config{}, fmt.Errorf("aws profile %q: %w", o.Profile, err)
		}
		return aws.Config{}, fmt.Errorf("aws configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("aws: no region: give region in the spec, AWS_REGION or a profile with a region")
	}
	return cfg, nil
}
