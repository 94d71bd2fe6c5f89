package replay

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// fileLetter is one line of eddy's dead-letter file (docs/dead-letters.md).
type fileLetter struct {
	Error *string `json:"error"`
	Stage *struct {
		Index *int   `json:"index"`
		Kind  string `json:"kind"`
	} `json:"stage"`
	Source *struct {
		File      *string `json:"file"`
		Line      *int64  `json:"line"`
		Topic     *string `json:"topic"`
		Partition *int32  `json:"partition"`
		Offset    *int64  `json:"offset"`
		Stream    *string `json:"stream"`
		Shard     *string `json:"shard"`
		Sequence  *string `json:"sequence"`
		Timestamp *string `json:"timestamp"`
	} `json:"source"`
	Key           *string `json:"key"`
	KeyEncoding   string  `json:"key_encoding"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding"`
	Headers       []struct {
		Key           string  `json:"key"`
		Value         *string `json:"value"`
		ValueEncoding string  `json:"value_encoding"`
	} `json:"headers"`
}

// LineError is a line of a dead-letter file that is not a dead letter
// (for example the stats line of an `eddy run` whose stderr was saved).
type LineError struct {
	File string
	Line int64
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: not a dead letter: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// ReadFile reads a dead-letter file written by `eddy run` ("-" is not
// special here: pass os.Stdin to [ReadLetters]) and calls fn for each dead
// letter in order. A line that is not a dead letter goes to bad (a
// *LineError) and reading continues; an error from fn or bad stops it.
func ReadFile(path string, fn func(*Letter) error, bad func(*LineError) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open dead letters: %w", err)
	}
	defer f.Close()
	return ReadLetters(path, f, fn, bad)
}

// ReadLetters is ReadFile over a reader; name is used as the letters' Topic.
func ReadLetters(name string, r io.Reader, fn func(*Letter) error, bad func(*LineError) error) error {
	br := bufio.NewReaderSize(r, 256<<10)
	for no := int64(1); ; no++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			l, perr := parseFileLine(name, no, bytes.TrimRight(line, "\r\n"))
			switch {
			case perr != nil && bad != nil:
				if err := bad(&LineError{File: name, Line: no, Err: perr}); err != nil {
					return err
				}
			case perr == nil:
				if err := fn(&l); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
}

func parseFileLine(name string, no int64, line []byte) (Letter, error) {
	var fl fileLetter
	if err := json.Unmarshal(line, &fl); err != nil {
		return Letter{}, err
	}
	if fl.Error == nil || fl.Stage == nil || fl.Source == nil || fl.Value == nil {
		return Letter{}, errors.New("want an object with error, stage, source and value")
	}
	l := Letter{Topic: name, Offset: no, InFile: true, Convention: Eddy, Error: *fl.Error}
	var err error
	if l.Key, err = fileBytes(fl.Key, fl.KeyEncoding); err != nil {
		return Letter{}, fmt.Errorf("key: %w", err)
	}
	if l.Value, err = fileBytes(fl.Value, fl.ValueEncoding); err != nil {
		return Letter{}, fmt.Errorf("value: %w", err)
	}
	for i, h := range fl.Headers {
		v, err := fileBytes(h.Value, h.ValueEncoding)
		if err != nil {
			return Letter{}, fmt.Errorf("headers[%d]: %w", i, err)
		}
		l.Headers = append(l.Headers, kgo.RecordHeader{Key: h.Key, Value: v})
	}
	index := -1
	if fl.Stage.Index != nil {
		index = *fl.Stage.Index
	}
	l.Stage = sink.StageLabel(index, fl.Stage.Kind)
	if _, ok := stageKind(l.Stage); !ok {
		l.note("stage %s is not a known stage", quote([]byte(l.Stage)))
	}
	l.Class = Class(fl.Stage.Kind, l.Error)
	s, o := fl.Source, &l.Origin
	switch {
	case s.File != nil:
		o.File, o.Line = *s.File, s.Line
	case s.Topic != nil:
		o.Topic, o.Partition, o.Offset = *s.Topic, s.Partition, s.Offset
		l.originTime(s.Timestamp)
	case s.Stream != nil:
		o.Topic = *s.Stream
		if s.Shard != nil {
			if n, err := source.ShardNumber(*s.Shard); err == nil {
				o.Partition = &n
			} else {
				l.note("source.shard %s is not a shard ID", quote([]byte(*s.Shard)))
			}
		}
		switch {
		case s.Sequence != nil && validSequence(*s.Sequence):
			o.Sequence = *s.Sequence
		case s.Sequence != nil:
			l.note("source.sequence %s is not a sequence number", quote([]byte(*s.Sequence)))
		default:
			l.note("source has a stream but no sequence")
		}
		l.originTime(s.Timestamp)
	default:
		l.note("source has neither file, topic nor stream")
	}
	// A replayed record that failed again carries its count in its headers.
	l.replayCount()
	return l, nil
}

func (l *Letter) originTime(ts *string) {
	if ts == nil {
		return
	}
	if ms, ok := value.ParseTime([]byte(*ts)); ok {
		l.Origin.Timestamp = &ms
	} else {
		l.note("source.timestamp %s is not an RFC 3339 time", quote([]byte(*ts)))
	}
}

// fileBytes decodes a key, value or header value of the file format.
func fileBytes(s *string, encoding string) ([]byte, error) {
	switch {
	case s == nil:
		return nil, nil
	case encoding == "":
		return []byte(*s), nil
	case encoding == "base64":
		return base64.StdEncoding.DecodeString(*s)
	}
	return nil, fmt.Errorf("unknown encoding %q", encoding)
}
