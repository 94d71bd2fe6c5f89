package duck

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// TableInfo is what [Describe] reads of a table: its columns in order and
// how many rows it holds.
type TableInfo struct {
	Name    string
	Columns []string
	Rows    int64
}

// Describe reads the tables of the DuckDB database file at path and their
// columns, so a caller can tell before writing whether rows would join a
// table of another shape. A file that does not exist has no tables (and is
// not created).
func Describe(ctx context.Context, path string) ([]TableInfo, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	db, err := openDB(ctx, path, 0)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	query := func(q string, ncol int, fn func([]driver.Value)) error {
		rows, err := db.conn.QueryContext(ctx, q, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, ncol)
		for {
			if err := rows.Next(dest); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			fn(dest)
		}
	}
	var out []TableInfo
	err = query(`SELECT table_name, column_name FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main'
		ORDER BY table_name, column_index`, 2, func(d []driver.Value) {
		t, c := d[0].(string), d[1].(string)
		if len(out) == 0 || out[len(out)-1].Name != t {
			out = append(out, TableInfo{Name: t})
		}
		out[len(out)-1].Columns = append(out[len(out)-1].Columns, c)
	})
	if err != nil {
		return nil, fmt.Errorf("read the tables of %s: %w", path, err)
	}
	for i := range out {
		err := query("SELECT count(*) FROM "+quoteIdent(out[i].Name), 1, func(d []driver.Value) {
			out[i].Rows, _ = d[0].(int64)
		})
		if err != nil {
			return nil, fmt.Errorf("count the rows of table %q in %s: %w", out[i].Name, path, err)
		}
	}
	return out, nil
}
