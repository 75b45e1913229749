package crilog

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Stream names the output an entry was written to.
type Stream string

// The two streams a CRI log records.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// ErrMalformed is wrapped by every error ParseLine returns.
var ErrMalformed = errors.New("malformed CRI log line")

// IsMalformed reports whether err comes from a line that is not a CRI log
// entry.
func IsMalformed(err error) bool { return errors.Is(err, ErrMalformed) }

// Entry is one line of a CRI log file.
type Entry struct {
	// Time is when the runtime read the content from the container.
	Time time.Time
	// Stream is where the container wrote the content.
	Stream Stream
	// Partial means the content continues in the next entry; otherwise this
	// entry ends a line.
	Partial bool
	// Content is the bytes the container wrote, without the newline that
	// ends the entry in the file. It aliases the slice given to ParseLine.
	Content []byte
}

// ParseLine parses one line of a CRI log file, with or without its
// terminating newline. Tags after the first (`F:x`) are ignored, so that
// later additions to the format still parse; the first must be P or F.
func ParseLine(b []byte) (Entry, error) {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	ts, rest, ok := bytes.Cut(b, []byte{' '})
	if !ok {
		return Entry{}, fmt.Errorf("%w: no stream", ErrMalformed)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return Entry{}, fmt.Errorf("%w: timestamp %q", ErrMalformed, ts)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return Entry{}, fmt.Errorf("%w: no tag", ErrMalformed)
	}
	e := Entry{Time: t, Stream: Stream(stream)}
	if e.Stream != Stdout && e.Stream != Stderr {
		return Entry{}, fmt.Errorf("%w: stream %q", ErrMalformed, stream)
	}
	// An entry with empty content may lack the space after its tag.
	tags, content, _ := bytes.Cut(rest, []byte{' '})
	tag, _, _ := bytes.Cut(tags, []byte{':'})
	switch string(tag) {
	case "P":
		e.Partial = true
	case "F":
	default:
		return Entry{}, fmt.Errorf("%w: tag %q", ErrMalformed, tags)
	}
	e.Content = content
	return e, nil
}
