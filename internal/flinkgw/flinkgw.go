// Package flinkgw is a client of the Flink SQL Gateway's REST API (v1, Flink
// 1.16 and later): sessions, statements and their operations, the job an
// INSERT starts, and the job statements SHOW JOBS and STOP JOB.
package flinkgw

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one SQL Gateway.
type Client struct {
	Base string // e.g. http://127.0.0.1:8083
	HTTP *http.Client
	// Poll is the pause between operation-status requests (default 200ms).
	Poll time.Duration
	// Retries of a request that fails to connect or gets a 5xx status
	// without an answer from the gateway (default 3).
	Retries int
}

// New returns a client of the gateway at base.
func New(base string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("flink SQL gateway URL %q: want http://HOST:PORT", base)
	}
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}, Poll: 200 * time.Millisecond, Retries: 3}, nil
}

// Error is an error the gateway returned.
type Error struct {
	Status int
	Errors []string
}

func (e *Error) Error() string {
	msg := strings.Join(e.Errors, "; ")
	// the gateway's errors carry the whole Java stack; the cause lines say it
	var causes []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Caused by: ") {
			causes = append(causes, strings.TrimPrefix(l, "Caused by: "))
		}
	}
	if len(causes) > 0 {
		return fmt.Sprintf("flink SQL gateway: %s", causes[len(causes)-1])
	}
	if i := strings.IndexByte(msg, '\n'); i > 0 {
		msg = msg[:i]
	}
	return fmt.Sprintf("flink SQL gateway: HTTP %d: %s", e.Status, msg)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	var last error
	for attempt := 0; attempt <= c.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(data))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.HTTP.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			last = fmt.Errorf("flink SQL gateway %s: %w", c.Base, err)
			continue
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			last = err
			continue
		}
		if resp.StatusCode >= 300 {
			var e struct {
				Errors []string `json:"errors"`
			}
			if json.Unmarshal(b, &e) == nil && len(e.Errors) > 0 {
				return &Error{Status: resp.StatusCode, Errors: e.Errors}
			}
			last = &Error{Status: resp.StatusCode, Errors: []string{strings.TrimSpace(string(b))}}
			if resp.StatusCode >= 500 {
				continue
			}
			return last
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("flink SQL gateway: unexpected answer to %s %s: %v", method, path, err)
		}
		return nil
	}
	return last
}

// Info is the gateway's product and version.
func (c *Client) Info(ctx context.Context) (string, error) {
	var r struct {
		ProductName string `json:"productName"`
		Version     string `json:"version"`
	}
	if err := c.do(ctx, "GET", "/v1/info", nil, &r); err != nil {
		return "", err
	}
	return r.ProductName + " " + r.Version, nil
}

// Session is an open gateway session.
type Session struct {
	c      *Client
	Handle string
}

// Open opens a session with the given configuration.
func (c *Client) Open(ctx context.Context, name string, props map[string]string) (*Session, error) {
	body := map[string]any{"sessionName": name}
	if len(props) > 0 {
		body["properties"] = props
	}
	var r struct {
		SessionHandle string `json:"sessionHandle"`
	}
	if err := c.do(ctx, "POST", "/v1/sessions", body, &r); err != nil {
		return nil, err
	}
	if r.SessionHandle == "" {
		return nil, fmt.Errorf("flink SQL gateway: no session handle in the answer")
	}
	return &Session{c: c, Handle: r.SessionHandle}, nil
}

// Close closes the session (the jobs it started keep running).
func (s *Session) Close(ctx context.Context) error {
	return s.c.do(ctx, "DELETE", "/v1/sessions/"+s.Handle, nil, nil)
}

// Result is what a statement returned: its columns and rows, and the job it
// started, if any.
type Result struct {
	Columns []string
	Rows    [][]any
	JobID   string
}

// Execute runs one statement, waits until its operation finished and
// fetches its results.
func (s *Session) Execute(ctx context.Context, stmt string) (*Result, error) {
	var r struct {
		OperationHandle string `json:"operationHandle"`
	}
	if err := s.c.do(ctx, "POST", "/v1/sessions/"+s.Handle+"/statements", map[string]any{"statement": stmt}, &r); err != nil {
		return nil, err
	}
	op := "/v1/sessions/" + s.Handle + "/operations/" + r.OperationHandle
	for {
		var st struct {
			Status string `json:"status"`
		}
		if err := s.c.do(ctx, "GET", op+"/status", nil, &st); err != nil {
			return nil, err
		}
		switch st.Status {
		case "FINISHED":
			return s.fetch(ctx, op)
		case "ERROR":
			// the result request returns the operation's error
			_, err := s.fetch(ctx, op)
			if err == nil {
				err = fmt.Errorf("flink SQL gateway: the statement failed")
			}
			return nil, err
		case "CANCELED", "CLOSED", "TIMEOUT":
			return nil, fmt.Errorf("flink SQL gateway: operation %s", strings.ToLower(st.Status))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(s.c.Poll):
		}
	}
}

func (s *Session) fetch(ctx context.Context, op string) (*Result, error) {
	res := &Result{}
	path := op + "/result/0?rowFormat=JSON"
	for path != "" {
		var r struct {
			ResultType    string `json:"resultType"`
			IsQueryResult bool   `json:"isQueryResult"`
			JobID         string `json:"jobID"`
			Results       struct {
				Columns []struct {
					Name string `json:"name"`
				} `json:"columns"`
				Data []struct {
					Fields []any `json:"fields"`
				} `json:"data"`
			} `json:"results"`
			NextResultURI string `json:"nextResultUri"`
		}
		if err := s.c.do(ctx, "GET", path, nil, &r); err != nil {
			return nil, err
		}
		if r.JobID != "" {
			res.JobID = r.JobID
		}
		if res.Columns == nil {
			for _, c := range r.Results.Columns {
				res.Columns = append(res.Columns, c.Name)
			}
		}
		for _, d := range r.Results.Data {
			res.Rows = append(res.Rows, d.Fields)
		}
		switch r.ResultType {
		case "EOS", "":
			return res, nil
		case "NOT_READY":
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(s.c.Poll):
			}
		}
		if r.NextResultURI == "" {
			return res, nil
		}
		path = r.NextResultURI
		if i := strings.Index(path, "/v1/"); i > 0 {
			path = path[i:]
		}
		if !strings.Contains(path, "rowFormat=") {
			path += "?rowFormat=JSON"
		}
		// an INSERT's result is its job id, in the first payload; a
		// query's rows (which carry a job id too) run to EOS
		if !r.IsQueryResult && res.JobID != "" && len(res.Rows) > 0 {
			return res, nil
		}
	}
	return res, nil
}

// Job is one row of SHOW JOBS.
type Job struct {
	ID, Name, Status, Start string
}

// Jobs lists the cluster's jobs.
func (s *Session) Jobs(ctx context.Context) ([]Job, error) {
	r, err := s.Execute(ctx, "SHOW JOBS")
	if err != nil {
		return nil, err
	}
	var out []Job
	for _, row := range r.Rows {
		j := Job{}
		get := func(i int) string {
			if i < len(row) {
				return fmt.Sprint(row[i])
			}
			return ""
		}
		j.ID, j.Name, j.Status, j.Start = get(0), get(1), get(2), get(3)
		out = append(out, j)
	}
	return out, nil
}

// Split cuts a SQL script into statements at the semicolons that end them,
// skipping comments and quoted text; EXECUTE STATEMENT SET BEGIN ... END is
// one statement. Statements that are only comments are dropped.
func Split(script string) []string {
	var out []string
	var cur strings.Builder
	inSet := false
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s != "" {
			out = append(out, s)
		}
	}
	rs := []rune(script)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '-' && i+1 < len(rs) && rs[i+1] == '-':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			cur.WriteRune('\n')
			continue
		case r == '\'' || r == '`' || r == '"':
			q := r
			cur.WriteRune(r)
			for i++; i < len(rs); i++ {
				cur.WriteRune(rs[i])
				if rs[i] == q {
					if i+1 < len(rs) && rs[i+1] == q {
						i++
						cur.WriteRune(rs[i])
						continue
					}
					break
				}
			}
			continue
		case r == ';':
			s := strings.ToUpper(strings.Join(strings.Fields(cur.String()), " "))
			if strings.HasPrefix(s, "EXECUTE STATEMENT SET BEGIN") || strings.HasPrefix(s, "BEGIN STATEMENT SET") {
				inSet = true
			}
			if inSet && !strings.HasSuffix(s, " END") {
				cur.WriteRune(r)
				continue
			}
			inSet = false
			flush()
			continue
		}
		cur.WriteRune(r)
	}
	flush()
	return out
}
