package pipeline

import (
	"time"

	"github.com/eddyhq/eddy/windows"
)

// Pipeline is a parsed pipeline spec.
type Pipeline struct {
	File   string // the spec's path, for messages; "" when parsed from memory
	Name   string
	Source Source
	// Sources are the named sources of a spec with several (the sources
	// section, see docs/joins.md); then Source is empty. Each record's
	// source name is the _source coordinate.
	Sources []NamedSource
	Format  string // one of Formats; "json" by default
	Time    Time
	Late    string  // "dlq" (default) or "drop"
	Tables  []Table // reference tables the lookup stages read, in spec order
	Stages  []Stage
	DLQ     *Target // nil: dead letters go to stderr
	Sinks   []Target
	State   *State // nil: no checkpoints (state lives and dies with the process)
	Serve   *Serve // nil: eddy serve's defaults; eddy run ignores it
}

// Serve configures eddy serve: where it listens and how many features it
// keeps (see docs/serving.md). The bearer token is never in the spec: it
// comes from --token or EDDY_SERVE_TOKEN.
type Serve struct {
	Listen   string        // HOST:PORT; default DefaultServeListen (loopback)
	TTL      time.Duration // a key not updated for this long is dropped; 0: kept until max_keys evicts it
	MaxKeys  int           // keys kept at most (one entry each); default DefaultServeMaxKeys
	TLSCert  string        // server certificate (PEM); with TLSKey serves HTTPS
	TLSKey   string        // its private key (PEM)
	ClientCA string        // CA bundle client certificates must chain to (mutual TLS)
	Line     int
}

// Defaults of the serve section.
const (
	DefaultServeListen  = "127.0.0.1:8080"
	DefaultServeMaxKeys = 1_000_000
)

// State configures checkpointing of window state, source positions and sink
// progress (see docs/state.md).
type State struct {
	Dir             string        // the state directory; relative paths resolve against the spec's directory
	CheckpointEvery time.Duration // default DefaultCheckpointEvery
	Backend         string        // "memory" (default) or "pebble": open windows in a Pebble store with a cache in front
	MemoryLimit     int64         // bytes the pebble backend's cache and store may take; default DefaultMemoryLimit
	Line            int
}

// Defaults of the state section.
const (
	DefaultCheckpointEvery       = 10 * time.Second
	DefaultMemoryLimit     int64 = 512 << 20
	MinMemoryLimit         int64 = 128 << 20
)

// Source says where records come from.
type Source struct {
	File    string // path, or "-" for stdin
	Kafka   *KafkaSource
	Kinesis *KinesisSource
	Line    int
}

// KafkaSource reads topics from a Kafka cluster.
type KafkaSource struct {
	Brokers []string // empty: from --brokers / EDDY_BROKERS / the config file
	Topics  []string
	Start   string // earliest (default) | latest | offset:N | last:N | time:RFC3339 | time:-15m
	Stop    string // none (default, follow) | caught-up | time:RFC3339
	Group   string // consumer group; empty: read-only, commits nothing
	Config  string // Java client properties file
	// Registry is the schema registry of the avro, protobuf and
	// json-schema formats; nil: from the flag, the properties or the
	// environment.
	Registry *Registry
}

// Registry is how to reach a schema registry (source.kafka.registry).
type Registry struct {
	URL      string
	User     string // basic auth; "user:password" in User alone also works
	Password string
	Token    string // bearer token, instead of basic auth
	TLS      *RegistryTLS
}

// RegistryTLS names the TLS files of a registry connection.
type RegistryTLS struct {
	CA, Cert, Key string
	Insecure      bool
}

// Formats are the record formats a spec's format key takes: JSON, Avro,
// Protobuf and JSON Schema framed for a schema registry, and raw (the value's
// bytes as one string field, value).
var Formats = []string{"json", "avro", "protobuf", "json-schema", "raw"}

// Bounded reports whether the source ends.
func (s Source) Bounded() bool {
	switch {
	case s.Kafka != nil:
		return s.Kafka.Stop != "none"
	case s.Kinesis != nil:
		return s.Kinesis.Stop != "none"
	}
	return true
}

// Time configures event time and watermarks.
type Time struct {
	Line            int           // where field was written
	Field           string        // "" means processing time
	MaxOutOfOrder   time.Duration // watermark = highest event time seen − this
	AllowedLateness time.Duration
	IdleTimeout     time.Duration // a partition silent this long stops holding the watermark back (default 30s)
}

// Target is a file sink or dead-letter file.
type Target struct {
	File       string // path, or "-" for stdout
	Kafka      *KafkaTarget
	Kinesis    *KinesisTarget
	DuckDB     *DuckDBTarget     // sinks only
	Parquet    *ParquetTarget    // sinks only
	Redis      *RedisTarget      // sinks only
	InfluxDB   *InfluxDBTarget   // sinks only
	Prometheus *PrometheusTarget // sinks only
	Line       int
}

// RedisTarget keeps the latest window per key in Redis hashes (see
// docs/serving.md).
type RedisTarget struct {
	Addr      string
	Prefix    string // "": the pipeline's name
	TTL       string // a duration; "": twice the window size
	User      string
	Password  string
	TLS       string // "true" or "false" (default)
	DB        int
	BatchRows int // 0: the sink's default
}

// InfluxDBTarget writes window rows as InfluxDB points: API v1 with DB,
// v2 with Org, Bucket and Token (see docs/serving.md).
type InfluxDBTarget struct {
	URL         string
	DB          string
	Org         string
	Bucket      string
	Token       string
	Measurement string // "": the pipeline's name
	BatchRows   int    // 0: the sink's default
	Flush       string // a duration; default 1s
}

// PrometheusTarget sends window rows as samples to a Prometheus
// remote-write endpoint (see docs/serving.md).
type PrometheusTarget struct {
	RemoteWrite string
	Prefix      string // "": the pipeline's name
	BatchRows   int    // 0: the sink's default
}

// DuckDBTarget writes rows into a DuckDB table (see docs/export.md).
type DuckDBTarget struct {
	Path      string
	Table     string
	Mode      string // append (default) | replace
	BatchRows int    // rows per committed batch; 0: the sink's default (122880)
}

// ParquetTarget writes rows to one Parquet file (Path) or to rolling files
// in Dir, rotated by Rotate (a row count like 100000, or a duration like 1m).
type ParquetTarget struct {
	Path   string // a file, or s3://BUCKET/KEY
	Dir    string // a directory, or s3://BUCKET/PREFIX/
	Rotate string
	// Endpoint, Region and PathStyle are for s3:// paths: an
	// S3-compatible store's URL, the bucket's region and path-style
	// addressing (ENDPOINT/BUCKET/KEY).
	Endpoint  string
	Region    string
	PathStyle bool
}

// KafkaTarget writes to a Kafka topic.
type KafkaTarget struct {
	Brokers []string // empty: the source's cluster
	Topic   string
	Key     []string // fields whose values form the record key (sinks only)
	Format  string   // json (default) or avro (sinks only)
	Config  string
}

// Table is a reference table of the tables section (see docs/lookup.md):
// exactly one of File, DuckDB and Kafka is set.
type Table struct {
	Name   string
	File   string // JSON Lines (.jsonl, .ndjson, .json), CSV (.csv) or Parquet (.parquet)
	DuckDB *DuckDBTable
	Kafka  *KafkaTable
	// Refresh is how often a file is checked for changes (default
	// DefaultFileRefresh) or a DuckDB table read again (0: once).
	Refresh     time.Duration
	MemoryLimit int64 // bytes the table may take; default DefaultTableMemoryLimit
	Line        int
}

// DuckDBTable reads a table, or the rows of a query, of a DuckDB database.
type DuckDBTable struct {
	Path  string
	Table string
	Query string
}

// KafkaTable keeps the latest value per key of a compacted topic.
type KafkaTable struct {
	Brokers []string // empty: the source's cluster
	Topic   string
	Key     string   // the column the record key is stored in
	Columns []string // the value fields kept; empty: those the topic holds when the run starts
	Config  string
}

// Defaults of a table.
const (
	DefaultFileRefresh            = time.Second
	DefaultTableMemoryLimit int64 = 256 << 20
)

// Table returns the table named name, or nil.
func (p *Pipeline) Table(name string) *Table {
	for i := range p.Tables {
		if p.Tables[i].Name == name {
			return &p.Tables[i]
		}
	}
	return nil
}

// StageKind names a stage type.
type StageKind string

// The stage kinds.
const (
	Filter  StageKind = "filter"
	Coerce  StageKind = "coerce"
	Project StageKind = "project"
	Window  StageKind = "window"
	Lookup  StageKind = "lookup"
	Join    StageKind = "join"
)

// Stage is one step of the pipeline. Exactly one of the kind-specific
// fields is set, as Kind says.
type Stage struct {
	Kind    StageKind
	Line    int
	Filter  Expr
	Coerce  []FieldType
	Project []Column
	Window  *WindowStage
	Lookup  *LookupStage
	Top     *TopStage
	Over    *OverStage
	Join    *JoinStage
}

// The on_missing choices of a lookup stage.
const (
	MissingNull = "null" // the selected fields are null (a left join)
	MissingDrop = "drop" // the record is filtered out (an inner join)
	MissingDLQ  = "dlq"  // the record is a dead letter, reason lookup_missing
)

// LookupStage joins a record with the row of a reference table whose
// Column equals the record's Field.
type LookupStage struct {
	Table      string
	Field      string // the record's field
	Column     string // the table's key column
	Select     []string
	OnMissing  string // MissingNull (default), MissingDrop or MissingDLQ
	Line       int
	TableLine  int
	OnLine     int
	SelectLine int
}

// Expr is an expression with where it was written.
type Expr struct {
	Src    string
	Line   int
	Column int // 1-based column of the expression text in the file
	// Pos maps each rune of Src to its line and 1-based column in the file
	// (block scalars, folded lines, escapes); nil when the spec was not
	// parsed from a file or the mapping could not be made.
	Pos []Pos
}

// Pos is a place in the spec file.
type Pos struct{ Line, Column int }

// Type is a coercion target.
type Type string

// The coercion targets.
const (
	TInt       Type = "int"
	TFloat     Type = "float"
	TString    Type = "string"
	TBool      Type = "bool"
	TTimestamp Type = "timestamp"
)

// FieldType is one coercion: field to type.
type FieldType struct {
	Field string
	Type  Type
	Line  int
}

// Column is one projected output: name = expression.
type Column struct {
	Name string
	Expr Expr
}

// WindowStage is the window stage.
type WindowStage struct {
	Spec       windows.Spec
	Key        []string
	KeyLine    int
	Aggregates []Aggregate
	Line       int
}

// Aggregate is one aggregate column, e.g. p95: quantile(amount, 0.95).
type Aggregate struct {
	Name  string
	Func  windows.Func
	Field string // "" for count()
	Q     float64
	Src   string
	Line  int
}

// HasWindow reports whether the pipeline has a window stage (its rows are
// window results).
func (p *Pipeline) HasWindow() bool {
	for _, st := range p.Stages {
		if st.Kind == Window {
			return true
		}
	}
	return false
}

// AfterWindow reports whether stages follow the first window (their rows
// are the window's results).
func (p *Pipeline) AfterWindow() bool {
	for i, st := range p.Stages {
		if st.Kind == Window {
			return i < len(p.Stages)-1
		}
	}
	return false
}
