// Package s3store writes finished files to S3 or an S3-compatible store:
// eddy's Parquet sinks and eddy export stage each file locally, then
// upload it here. A file larger than one part goes up as a multipart
// upload, which S3 makes visible only when it is completed: an object
// appears whole or not at all, and a failed upload is aborted (its parts
// deleted).
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/internal/awsconf"
)

// Location is an object or a prefix in a bucket.
type Location struct {
	Bucket, Key string
}

func (l Location) String() string { return "s3://" + l.Bucket + "/" + l.Key }

// IsURL reports whether s names an S3 location (s3://…).
func IsURL(s string) bool { return strings.HasPrefix(s, "s3://") }

// ParseURL reads s3://BUCKET/KEY; the key may be empty or end in / (a
// prefix).
func ParseURL(s string) (Location, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	bucket, key, _ := strings.Cut(rest, "/")
	if !ok || bucket == "" {
		return Location{}, fmt.Errorf("%q: want s3://BUCKET/KEY", s)
	}
	return Location{Bucket: bucket, Key: key}, nil
}

// Options say which store and how.
type Options struct {
	Region, Endpoint, Profile string
	// PathStyle addresses buckets as ENDPOINT/BUCKET/KEY instead of
	// BUCKET.ENDPOINT/KEY, as most S3-compatible stores want.
	PathStyle bool
	// PartSize is the size of a multipart upload's parts (default and
	// minimum 5 MiB); Concurrency how many go up at once (default 4).
	PartSize    int64
	Concurrency int
}

// Store uploads to one S3 account and endpoint. It is safe for
// concurrent use.
type Store struct {
	cl *s3.Client
	up *manager.Uploader
}

// Open makes a Store; it does not call S3 (Check does).
func Open(ctx context.Context, o Options) (*Store, error) {
	cfg, err := awsconf.Load(ctx, awsconf.Options{Region: o.Region, Endpoint: o.Endpoint, Profile: o.Profile})
	if err != nil {
		return nil, err
	}
	cl := s3.NewFromConfig(cfg, func(so *s3.Options) { so.UsePathStyle = o.PathStyle })
	up := manager.NewUploader(cl, func(u *manager.Uploader) {
		u.PartSize = max(o.PartSize, manager.MinUploadPartSize)
		u.Concurrency = cmpOr(o.Concurrency, 4)
		u.LeavePartsOnError = false // abort: no parts left behind to pay for
	})
	return &Store{cl: cl, up: up}, nil
}

func cmpOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

// Check fails when the bucket cannot be reached (missing, no access, no
// credentials), so a run fails before it reads anything.
func (s *Store) Check(ctx context.Context, bucket string) error {
	if _, err := s.cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("s3 bucket %q: %w", bucket, err)
	}
	return nil
}

// Upload puts the local file at loc.
func (s *Store) Upload(ctx context.Context, local string, loc Location) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := s.up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key), Body: f,
		ContentType: aws.String("application/vnd.apache.parquet")}); err != nil {
		var mu manager.MultiUploadFailure
		if errors.As(err, &mu) {
			return fmt.Errorf("upload %s (multipart upload %s aborted): %w", loc, mu.UploadID(), err)
		}
		return fmt.Errorf("upload %s: %w", loc, err)
	}
	return nil
}

// NextPart is the number after the highest part-NNNNNN-… object under
// prefix (1 when there is none), so a restarted run's files sort after
// those of the runs before.
func (s *Store) NextPart(ctx context.Context, loc Location) (int, error) {
	next := 1
	p := s3.NewListObjectsV2Paginator(s.cl, &s3.ListObjectsV2Input{Bucket: aws.String(loc.Bucket), Prefix: aws.String(loc.Key + "part-")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("list %s: %w", loc, err)
		}
		for _, o := range page.Contents {
			rest := strings.TrimPrefix(aws.ToString(o.Key), loc.Key+"part-")
			num, _, ok := strings.Cut(rest, "-")
			if n, err := strconv.Atoi(num); ok && err == nil && strings.HasSuffix(rest, ".parquet") {
				next = max(next, n+1)
			}
		}
	}
	return next, nil
}

// OpenParquet is a Parquet sink writing to loc: one object (dir false:
// loc is its key) uploaded at Close, or with dir rolling part files under
// the prefix loc, each uploaded when it is finished and numbered after
// the parts already there. Files are staged in a temporary directory,
// removed by Close and Abort.
func OpenParquet(ctx context.Context, s *Store, loc Location, dir bool, o duck.ParquetOptions) (*Parquet, error) {
	if err := s.Check(ctx, loc.Bucket); err != nil {
		return nil, err
	}
	if dir && loc.Key != "" && !strings.HasSuffix(loc.Key, "/") {
		loc.Key += "/"
	}
	if !dir && (loc.Key == "" || strings.HasSuffix(loc.Key, "/")) {
		return nil, fmt.Errorf("%s: an object key is needed for one Parquet file (or write a directory of parts)", loc)
	}
	stage, err := os.MkdirTemp("", "eddy-s3-")
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", loc, err)
	}
	local := filepath.Join(stage, "part")
	o.Dir = dir
	if o.Exactly {
		o.Store = parts{s: s, loc: loc}
	} else if dir {
		if o.FirstSeq, err = s.NextPart(ctx, loc); err != nil {
			os.RemoveAll(stage)
			return nil, err
		}
	} else {
		local = filepath.Join(stage, "file.parquet")
	}
	o.Upload = func(ctx context.Context, file string) (string, error) {
		key := loc
		if dir {
			key.Key += filepath.Base(file)
		}
		return key.String(), s.Upload(ctx, file, key)
	}
	p, err := duck.OpenParquet(local, o)
	if err != nil {
		os.RemoveAll(stage)
		return nil, fmt.Errorf("parquet %s: %w", loc, err)
	}
	return &Parquet{Parquet: p, stage: stage}, nil
}

// parts is the duck.PartStore of an exactly-once directory under a
// prefix: each part goes up whole (a multipart upload is visible only
// once completed) and the marker is one small PutObject.
type parts struct {
	s   *Store
	loc Location
}

func (p parts) key(name string) Location {
	return Location{Bucket: p.loc.Bucket, Key: p.loc.Key + name}
}

func (p parts) Marker(ctx context.Context) ([]byte, error) {
	k := p.key(duck.MarkerName)
	out, err := p.s.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(k.Bucket), Key: aws.String(k.Key)})
	if err != nil {
		var nk *types.NoSuchKey
		if errors.As(err, &nk) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", k, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", k, err)
	}
	return b, nil
}

func (p parts) PutMarker(ctx context.Context, b []byte) error {
	k := p.key(duck.MarkerName)
	if _, err := p.s.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(k.Bucket), Key: aws.String(k.Key),
		Body: bytes.NewReader(b), ContentType: aws.String("application/json")}); err != nil {
		return fmt.Errorf("put %s: %w", k, err)
	}
	return nil
}

func (p parts) Parts(ctx context.Context) ([]string, error) {
	var names []string
	pg := s3.NewListObjectsV2Paginator(p.s.cl, &s3.ListObjectsV2Input{Bucket: aws.String(p.loc.Bucket), Prefix: aws.String(p.loc.Key + "part-")})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", p.loc, err)
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), p.loc.Key)
			if !strings.Contains(name, "/") && strings.HasSuffix(name, ".parquet") {
				names = append(names, name)
			}
		}
	}
	return names, nil
}

func (p parts) Remove(ctx context.Context, name string) error {
	k := p.key(name)
	if _, err := p.s.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(k.Bucket), Key: aws.String(k.Key)}); err != nil {
		return fmt.Errorf("delete %s: %w", k, err)
	}
	return nil
}

func (p parts) Put(ctx context.Context, local, name string) (string, error) {
	k := p.key(name)
	err := p.s.Upload(ctx, local, k)
	if err == nil {
		os.Remove(local)
	}
	return k.String(), err
}

// Parquet is a duck.Parquet whose files go to S3.
type Parquet struct {
	*duck.Parquet
	stage string
}

// Close finishes and uploads the last file, then removes the staging
// directory.
func (p *Parquet) Close() error {
	err := p.Parquet.Close()
	os.RemoveAll(p.stage)
	return err
}

// Abort drops the current file; nothing more is uploaded.
func (p *Parquet) Abort() error {
	err := p.Parquet.Abort()
	os.RemoveAll(p.stage)
	return err
}
