package duck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// ParquetOptions configures a [Parquet] sink. The zero value writes one
// file at Close, without coordinate columns.
type ParquetOptions struct {
	// Dir makes the path a directory of rolling files named
	// part-NNNNNN-YYYYMMDDTHHMMSS.mmmZ.parquet (sequence number, then the
	// UTC wall-clock time of the file's first row), so they sort by name.
	// Numbering continues after the highest part already there. Default:
	// the path is one file.
	Dir bool
	// RotateRows finishes a file after this many rows (Dir only); 0: no
	// limit.
	RotateRows int64
	// RotateEvery finishes a file once it is this old: the first write
	// after that goes to a new file (Dir only); 0: no limit.
	RotateEvery time.Duration
	// BatchRows is how many rows are buffered before they are appended to
	// the in-memory table; default DefaultBatchRows.
	BatchRows int
	// Coordinates adds _topic, _partition, _offset, _timestamp and _key
	// columns, as in Options.Coordinates.
	Coordinates bool
	// Threads caps DuckDB's threads for the COPY; 0 keeps DuckDB's default.
	Threads int
	// Clock tells the time for rotation and file names; default time.Now.
	Clock func() time.Time
	// Upload, when set, takes each finished file (synced, under its final
	// local name) elsewhere, an object store, and returns the name it has
	// there (for Files); the local file is removed once it returns. An
	// error fails the sink, as a failed write would.
	Upload func(ctx context.Context, local string) (string, error)
	// FirstSeq, when above the local parts' next number, is where the
	// numbering of a directory starts (the parts already uploaded).
	FirstSeq int
	// Exactly makes a directory a sink.Transactional whose files are
	// named and made visible at checkpoints (parquet_exact.go); rotation
	// still splits an interval's rows into several files. Dir only.
	Exactly bool
	// Store is where Exactly puts the parts and the marker; default the
	// directory itself. Upload is not used with Exactly.
	Store PartStore
}

// Validate checks the options.
func (o ParquetOptions) Validate() error {
	if o.RotateRows < 0 || o.RotateEvery < 0 {
		return errors.New("rotation must not be negative")
	}
	if !o.Dir && (o.RotateRows > 0 || o.RotateEvery > 0) {
		return errors.New("rotation needs a directory")
	}
	if !o.Dir && o.Exactly {
		return errors.New("exactly once needs a directory")
	}
	if o.BatchRows < 0 {
		return fmt.Errorf("batch rows %d: must not be negative", o.BatchRows)
	}
	if o.Threads < 0 {
		return fmt.Errorf("threads %d: must not be negative", o.Threads)
	}
	return nil
}

// Parquet is a sink that writes Parquet files through DuckDB: rows go into
// an in-memory DuckDB table (same type inference and widening as [Table]),
// and each file is written with COPY ... (FORMAT parquet) to NAME.tmp,
// synced and renamed, so a killed run never leaves a partial file under a
// final name. Rows are durable when their file is finished: at rotation,
// Flush (directory mode) or Close.
//
// A Parquet sink is owned by one goroutine, except Written and Files.
type Parquet struct {
	db        *database
	w         *writer
	path      string
	o         ParquetOptions
	batchRows int

	seq       int
	fileRows  int64
	fileStart time.Time
	written   atomic.Int64
	files     atomic.Pointer[[]string]
	err       error
	closed    bool
	x         *exact // with Exactly
}

var (
	_ sink.Sink    = (*Parquet)(nil)
	_ sink.Flusher = (*Parquet)(nil)
)

const memTable = "rows"

// OpenParquet prepares to write Parquet at path: one file, or with
// opts.Dir a directory (created if missing). It checks now that the file
// or directory can be written. Leftover part-*.parquet.tmp files of killed
// runs in the directory are removed.
func OpenParquet(path string, opts ParquetOptions) (*Parquet, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("parquet sink: %w", err)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	p := &Parquet{path: path, o: opts, batchRows: opts.BatchRows, seq: max(1, opts.FirstSeq)}
	if p.batchRows == 0 {
		p.batchRows = DefaultBatchRows
	}
	p.files.Store(&[]string{})
	if opts.Dir {
		if err := p.prepareDir(); err != nil {
			return nil, fmt.Errorf("parquet %s: %w", path, err)
		}
	} else if err := probe(path + ".tmp"); err != nil {
		return nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	ctx := context.Background()
	if opts.Exactly {
		if err := p.openExact(ctx); err != nil {
			return nil, fmt.Errorf("parquet %s: %w", path, err)
		}
	}
	db, err := openDB(ctx, "", opts.Threads)
	if err != nil {
		return nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	p.db = db
	p.w = newWriter(db, memTable, opts.Coordinates, false)
	if opts.Coordinates {
		if err := p.w.create(ctx); err != nil {
			p.closeDB()
			return nil, fmt.Errorf("parquet %s: %w", path, err)
		}
	}
	return p, nil
}

// probe creates and removes name, to fail early on an unwritable path.
func probe(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(name)
}

// prepareDir creates the directory, removes leftover temporary parts and
// finds the next sequence number.
func (p *Parquet) prepareDir() error {
	if err := os.MkdirAll(p.path, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(p.path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, "part-")
		if !ok {
			continue
		}
		if strings.HasSuffix(name, ".parquet.tmp") {
			if err := os.Remove(filepath.Join(p.path, name)); err != nil {
				return err
			}
			continue
		}
		num, _, ok := strings.Cut(rest, "-")
		if n, err := strconv.Atoi(num); ok && err == nil && strings.HasSuffix(name, ".parquet") {
			p.seq = max(p.seq, n+1)
		}
	}
	return probe(filepath.Join(p.path, fmt.Sprintf("part-%06d.parquet.tmp", p.seq)))
}

// Write buffers a row (it fails when Coordinates is on: use WriteRecord).
func (p *Parquet) Write(r *sink.Row) error { return p.WriteRecord(r, nil) }

// WriteRecord buffers a row with the coordinates of rec (nil when
// Coordinates is off); rows without Names are read from their JSON object,
// and one that is not an object gets a *RowError and is not written. It
// finishes the current file first when it is RotateEvery old, and after
// the row when it has RotateRows rows.
func (p *Parquet) WriteRecord(r *sink.Row, rec *source.Record) error {
	if p.err != nil {
		return p.err
	}
	if p.closed {
		return errors.New("parquet sink: write after close")
	}
	var now time.Time
	if p.o.RotateEvery > 0 || p.fileRows == 0 {
		now = p.o.Clock()
	}
	if p.o.RotateEvery > 0 && p.fileRows > 0 && now.Sub(p.fileStart) >= p.o.RotateEvery {
		if err := p.finish(context.Background()); err != nil {
			return err
		}
	}
	if err := p.w.add(context.Background(), r, rec); err != nil {
		var re *RowError
		if errors.As(err, &re) {
			return err
		}
		return p.fail(err)
	}
	if p.fileRows == 0 {
		p.fileStart = now
	}
	p.fileRows++
	if p.w.rows >= p.batchRows {
		if _, _, err := p.w.commit(context.Background()); err != nil {
			return p.fail(err)
		}
	}
	if p.o.RotateRows > 0 && p.fileRows >= p.o.RotateRows {
		return p.finish(context.Background())
	}
	return nil
}

func (p *Parquet) fail(err error) error {
	p.err = fmt.Errorf("parquet %s: %w", p.path, err)
	return p.err
}

// Flush finishes the current file in directory mode, making every row
// written so far durable. With a single file it does nothing: that file
// is written by Close.
func (p *Parquet) Flush(ctx context.Context) error {
	if p.err != nil {
		return p.err
	}
	if !p.o.Dir || p.fileRows == 0 {
		return nil
	}
	return p.finish(ctx)
}

// fileName is the name of the current file.
func (p *Parquet) fileName() string {
	if !p.o.Dir {
		return p.path
	}
	ts := p.fileStart.UTC().Format("20060102T150405.000Z")
	return filepath.Join(p.path, fmt.Sprintf("part-%06d-%s.parquet", p.seq, ts))
}

// finish writes the rows of the current file and starts the next one.
func (p *Parquet) finish(ctx context.Context) error {
	if _, _, err := p.w.commit(ctx); err != nil {
		return p.fail(err)
	}
	if !p.w.exists {
		return nil // nothing was ever written: no columns, no file
	}
	if err := p.w.addNullColumns(ctx); err != nil {
		return p.fail(err)
	}
	name := p.fileName()
	tmp := name + ".tmp"
	if p.x != nil {
		tmp = filepath.Join(p.path, fmt.Sprintf("part-pending-%03d.parquet.tmp", len(p.x.pending)))
	}
	q := fmt.Sprintf("COPY %s TO %s (FORMAT parquet)", quoteIdent(memTable), quoteString(tmp))
	if _, err := p.w.exec(ctx, q); err != nil {
		os.Remove(tmp)
		return p.fail(fmt.Errorf("write %s: %w", tmp, err))
	}
	if p.x != nil {
		// named and made visible by Commit
		if err := syncRename(tmp, tmp); err != nil {
			os.Remove(tmp)
			return p.fail(err)
		}
		if err := p.emptyTable(ctx); err != nil {
			return err
		}
		p.x.pending = append(p.x.pending, pending{local: tmp, rows: p.fileRows})
		p.fileRows = 0
		return nil
	}
	if err := syncRename(tmp, name); err != nil {
		os.Remove(tmp)
		return p.fail(err)
	}
	if p.o.Upload != nil {
		remote, err := p.o.Upload(ctx, name)
		os.Remove(name)
		if err != nil {
			return p.fail(err)
		}
		name = remote
	}
	if err := p.emptyTable(ctx); err != nil {
		return err
	}
	p.written.Add(p.fileRows)
	files := append(append([]string(nil), *p.files.Load()...), name)
	p.files.Store(&files)
	p.fileRows = 0
	p.seq++
	return nil
}

// emptyTable empties the in-memory table, keeping the columns and their
// types for the next file.
func (p *Parquet) emptyTable(ctx context.Context) error {
	q := fmt.Sprintf("CREATE OR REPLACE TABLE %[1]s AS SELECT * FROM %[1]s LIMIT 0", quoteIdent(memTable))
	if _, err := p.w.exec(ctx, q); err != nil {
		return p.fail(fmt.Errorf("empty the in-memory table: %w", err))
	}
	return nil
}

// syncRename makes tmp durable and renames it to name.
func syncRename(tmp, name string) error {
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(name)); err == nil {
		d.Sync() // best effort: some file systems cannot sync a directory
		d.Close()
	}
	return nil
}

// Dir reports whether the sink writes a directory of files.
func (p *Parquet) Dir() bool { return p.o.Dir }

// Written returns the number of rows in finished files.
func (p *Parquet) Written() int64 { return p.written.Load() }

// Files lists the finished files, in order.
func (p *Parquet) Files() []string { return *p.files.Load() }

// Close writes the last file (the only one without Dir; in directory mode
// only when it has rows) and releases DuckDB.
func (p *Parquet) Close() error {
	if p.closed {
		return p.err
	}
	p.closed = true
	err := p.err
	if p.x != nil {
		// the rows since the last checkpoint are written again by a run
		// restarted from it; the end of a run checkpoints before Close
		p.x.dropPending()
		if cerr := p.closeDB(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("parquet %s: close: %w", p.path, cerr))
		}
		return err
	}
	if err == nil && (!p.o.Dir || p.fileRows > 0) {
		if !p.o.Dir && p.fileRows == 0 {
			p.fileStart = p.o.Clock()
		}
		err = p.finish(context.Background())
	}
	if cerr := p.closeDB(); cerr != nil {
		cerr = fmt.Errorf("parquet %s: close: %w", p.path, cerr)
		err = errors.Join(err, cerr)
	}
	return err
}

// Abort releases the sink without finishing the current file: its rows are
// dropped, and with a single file an existing file at the path stays as it
// was. Finished files of a directory stay.
func (p *Parquet) Abort() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if p.w.inTx {
		p.w.rollback()
	}
	if p.x != nil {
		p.x.dropPending()
	}
	return p.closeDB()
}

func (p *Parquet) closeDB() error {
	return p.db.Close()
}
