package format

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// Registry is where schemas come from. franz-go's *sr.Client is one;
// [Static] is another, for schemas known in advance.
type Registry interface {
	SchemaByID(ctx context.Context, id int) (sr.Schema, error)
	SchemaByVersion(ctx context.Context, subject string, version int) (sr.SubjectSchema, error)
}

// Config is how to reach a schema registry. Reading it from the spec,
// client.properties, the environment and flags is the caller's job.
type Config struct {
	// URLs of the registry; the first that answers is used. Required.
	URLs []string
	// User and Password for HTTP basic auth (basic.auth.user.info).
	User, Password string
	// BearerToken is sent as "Authorization: Bearer ..." when set; it
	// cannot be combined with User.
	BearerToken string
	// TLS for https URLs.
	TLS TLSConfig
	// Timeout bounds one request; 0 means 10 s.
	Timeout time.Duration
}

// TLSConfig names the files of a TLS setup (schema.registry.ssl.*).
type TLSConfig struct {
	CAFile   string // PEM certificates to trust instead of the system's
	CertFile string // client certificate (PEM), with KeyFile
	KeyFile  string
	// InsecureSkipVerify accepts any server certificate.
	InsecureSkipVerify bool
}

func (t TLSConfig) set() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify
}

// Validate reports what is missing or contradictory in c.
func (c Config) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("schema registry: no URL")
	}
	for _, u := range c.URLs {
		if u == "" {
			return errors.New("schema registry: empty URL")
		}
	}
	if c.BearerToken != "" && c.User != "" {
		return errors.New("schema registry: basic auth and a bearer token are exclusive")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("schema registry: a client certificate needs both a cert and a key file")
	}
	return nil
}

// Client builds franz-go's registry client for c.
func (c Config) Client() (*sr.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.TLS.set() {
		tc, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	opts := []sr.ClientOpt{
		sr.URLs(append([]string(nil), c.URLs...)...),
		sr.HTTPClient(&http.Client{Timeout: timeout, Transport: tr}),
		sr.UserAgent("eddy"),
	}
	if c.User != "" {
		opts = append(opts, sr.BasicAuth(c.User, c.Password))
	}
	if c.BearerToken != "" {
		opts = append(opts, sr.BearerToken(c.BearerToken))
	}
	return sr.NewClient(opts...)
}

func (t TLSConfig) config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("schema registry CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("schema registry CA %s: no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("schema registry client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Static is a [Registry] of schemas known in advance: by id, and by subject
// and version for references. Unknown ids answer as a registry does (404).
type Static struct {
	IDs      map[int]sr.Schema
	Subjects map[string]map[int]sr.SubjectSchema
}

// SchemaByID returns the schema with id.
func (s *Static) SchemaByID(_ context.Context, id int) (sr.Schema, error) {
	if sch, ok := s.IDs[id]; ok {
		return sch, nil
	}
	return sr.Schema{}, &sr.ResponseError{StatusCode: http.StatusNotFound, ErrorCode: 40403, Message: "Schema not found"}
}

// SchemaByVersion returns a subject's schema at version.
func (s *Static) SchemaByVersion(_ context.Context, subject string, version int) (sr.SubjectSchema, error) {
	if sch, ok := s.Subjects[subject][version]; ok {
		return sch, nil
	}
	return sr.SubjectSchema{}, &sr.ResponseError{StatusCode: http.StatusNotFound, ErrorCode: 40402, Message: "Version not found"}
}

// CacheOptions tunes a [Cache]; the zero value takes the defaults.
type CacheOptions struct {
	// Backoff is the wait before the first retry of a failed fetch,
	// doubled for each next one; 0 means 100 ms.
	Backoff time.Duration
	// MaxBackoff caps a wait; 0 means 5 s.
	MaxBackoff time.Duration
	// Attempts is how many times a fetch is tried before the error is
	// [ErrRegistry]; 0 means 8 (about 16 s of waiting with the defaults).
	Attempts int
	// NotFoundTTL is how long an id the registry does not know stays
	// unknown before it is asked again; 0 means one minute. Records with
	// that id are dead letters meanwhile.
	NotFoundTTL time.Duration
	// Now is the clock for NotFoundTTL; nil means time.Now.
	Now func() time.Time
}

func (o *CacheOptions) defaults() {
	if o.Backoff <= 0 {
		o.Backoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 8
	}
	if o.NotFoundTTL <= 0 {
		o.NotFoundTTL = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Cache fetches schemas from a [Registry] once per id (and once per subject
// and version, for references): concurrent misses of one id wait for the
// same fetch. It is safe for concurrent use.
type Cache struct {
	ctx  context.Context
	reg  Registry
	opts CacheOptions

	mu      sync.Mutex
	entries map[cacheKey]*entry
}

type cacheKey struct {
	id      int // -1 for a subject and version
	subject string
	version int
}

// entry is one fetch; done is closed when s and err are set.
type entry struct {
	done chan struct{}
	s    sr.SubjectSchema
	err  error
	at   time.Time // when a not-found answer came
}

// NewCache returns a cache in front of reg. Fetches stop, with an
// [ErrRegistry] error, when ctx is done (the run's context).
func NewCache(ctx context.Context, reg Registry, opts CacheOptions) *Cache {
	opts.defaults()
	return &Cache{ctx: ctx, reg: reg, opts: opts, entries: map[cacheKey]*entry{}}
}

// Schema returns the schema with id. The error wraps [ErrUnknownSchema]
// when the registry does not know the id, [ErrRegistry] when it could not
// be asked.
func (c *Cache) Schema(id int) (sr.Schema, error) {
	s, err := c.get(cacheKey{id: id})
	return s.Schema, err
}

// Version returns a subject's schema at a version (for references).
func (c *Cache) Version(subject string, version int) (sr.SubjectSchema, error) {
	return c.get(cacheKey{id: -1, subject: subject, version: version})
}

func (c *Cache) get(k cacheKey) (sr.SubjectSchema, error) {
	for {
		c.mu.Lock()
		e, ok := c.entries[k]
		if ok {
			c.mu.Unlock()
			select {
			case <-e.done:
			case <-c.ctx.Done():
				return sr.SubjectSchema{}, fmt.Errorf("%w: %w", ErrRegistry, c.ctx.Err())
			}
			if e.err != nil && !e.at.IsZero() && c.opts.Now().Sub(e.at) >= c.opts.NotFoundTTL {
				c.mu.Lock()
				if c.entries[k] == e {
					delete(c.entries, k)
				}
				c.mu.Unlock()
				continue
			}
			return e.s, e.err
		}
		e = &entry{done: make(chan struct{})}
		c.entries[k] = e
		c.mu.Unlock()

		e.s, e.err = c.fetch(k)
		if rec := (*Error)(nil); errors.As(e.err, &rec) {
			e.at = c.opts.Now() // the answer, kept for NotFoundTTL
		}
		if e.err != nil && e.at.IsZero() {
			// not the id's fault: the next record asks again
			c.mu.Lock()
			delete(c.entries, k)
			c.mu.Unlock()
		}
		close(e.done)
		return e.s, e.err
	}
}

// fetch asks the registry, retrying what may pass.
func (c *Cache) fetch(k cacheKey) (sr.SubjectSchema, error) {
	wait := c.opts.Backoff
	var last error
	for attempt := 1; ; attempt++ {
		var s sr.SubjectSchema
		var err error
		if k.id >= 0 {
			s.Schema, err = c.reg.SchemaByID(c.ctx, k.id)
			s.ID = k.id
		} else {
			s, err = c.reg.SchemaByVersion(c.ctx, k.subject, k.version)
		}
		if err == nil {
			return s, nil
		}
		if c.ctx.Err() != nil {
			return s, fmt.Errorf("%w: %w", ErrRegistry, c.ctx.Err())
		}
		retry, res := c.classify(k, err)
		if !retry {
			return s, res
		}
		last = err
		if attempt >= c.opts.Attempts {
			return s, fmt.Errorf("%w: %s failed %d times, last: %w", ErrRegistry, k.what(), attempt, last)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return s, fmt.Errorf("%w: %w (fetching %s, last error: %v)", ErrRegistry, c.ctx.Err(), k.what(), last)
		}
		wait = min(2*wait, c.opts.MaxBackoff)
	}
}

func (k cacheKey) what() string {
	if k.id >= 0 {
		return fmt.Sprintf("fetching schema id %d", k.id)
	}
	return fmt.Sprintf("fetching subject %q version %d", k.subject, k.version)
}

// classify says whether err may pass on a retry, or else the error to
// return: not found is the record's fault, a refusal is the run's.
func (c *Cache) classify(k cacheKey, err error) (retry bool, res error) {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		return true, nil // transport: the registry may come back
	}
	switch {
	case re.StatusCode == http.StatusNotFound && k.id >= 0:
		return false, &Error{Err: ErrUnknownSchema, ID: k.id, Detail: "the registry does not know it"}
	case re.StatusCode == http.StatusNotFound:
		return false, &Error{Err: ErrSchema, ID: -1, Detail: fmt.Sprintf("reference: subject %q version %d not found", k.subject, k.version)}
	case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
		return false, fmt.Errorf("%w: %s: the registry refused the credentials (HTTP %d: %s)", ErrRegistry, k.what(), re.StatusCode, strings.TrimSpace(re.Error()))
	case re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500:
		return true, nil
	}
	return false, fmt.Errorf("%w: %s: HTTP %d: %s", ErrRegistry, k.what(), re.StatusCode, strings.TrimSpace(re.Error()))
}

// references returns the schemas s references, transitively, each once,
// dependencies before their dependents, by reference name.
func (c *Cache) references(s sr.Schema) ([]namedSchema, error) {
	var out []namedSchema
	seen := map[string]bool{}
	var walk func(refs []sr.SchemaReference, depth int) error
	walk = func(refs []sr.SchemaReference, depth int) error {
		if depth > 32 {
			return errors.New("references nest deeper than 32")
		}
		for _, r := range refs {
			if seen[r.Name] {
				continue
			}
			seen[r.Name] = true
			ref, err := c.Version(r.Subject, r.Version)
			if err != nil {
				return err
			}
			if err := walk(ref.References, depth+1); err != nil {
				return err
			}
			out = append(out, namedSchema{r.Name, ref.Schema.Schema})
		}
		return nil
	}
	return out, walk(s.References, 0)
}

type namedSchema struct{ name, text string }
