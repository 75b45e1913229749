package crilog

import (
	"bytes"
	"fmt"
	"io"
)

// tailChunk is how much of the file is read at a time, going backwards, to
// find where its last lines start: a few pages, enough for a hundred typical
// entries per read.
const tailChunk = 32 << 10

// tailOffset returns the offset in the first size bytes of r where the last
// n lines start. A line is a run of partial entries and the full entry that
// ends it; a run of partial entries at the very end, a line still being
// written, counts as one. Malformed lines are not counted, as Copy skips
// them. With n < 0 or fewer than n lines it returns 0.
func tailOffset(r io.ReaderAt, size, n int64) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	s := backScanner{r: r, pos: size}
	var count int64
	last := true
	for {
		line, start, err := s.prev()
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		e, err := ParseLine(line)
		if err != nil {
			continue
		}
		// Going backwards, a line begins at a full entry, or at the last
		// entry of the file when that one is partial.
		if !e.Partial || last {
			if count == n {
				return min(start+int64(len(line))+1, size), nil
			}
			count++
		}
		last = false
	}
}

// backScanner yields the lines of a file from the last to the first.
type backScanner struct {
	r   io.ReaderAt
	pos int64  // file offset of buf[0]
	buf []byte // the bytes before the lines already yielded
}

// prev returns the line before those already returned, without its
// newline, and the offset it starts at; io.EOF once there are no more.
func (s *backScanner) prev() ([]byte, int64, error) {
	for {
		// The newline that ends the last line in buf belongs to it.
		body := bytes.TrimSuffix(s.buf, []byte{'\n'})
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
			line := body[i+1:]
			s.buf = s.buf[:i+1]
			return line, s.pos + int64(i) + 1, nil
		}
		if s.pos == 0 {
			if len(s.buf) == 0 {
				return nil, 0, io.EOF
			}
			s.buf = nil
			return body, 0, nil
		}
		n := min(int64(tailChunk), s.pos)
		chunk := make([]byte, int(n)+len(s.buf))
		if _, err := s.r.ReadAt(chunk[:n], s.pos-n); err != nil {
			return nil, 0, fmt.Errorf("read log: %w", err)
		}
		copy(chunk[n:], s.buf)
		s.buf = chunk
		s.pos -= n
	}
}
