package crilog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// pollInterval is how often a followed log is checked for new entries: the
// kubelet's own follow latency is of this order, and a stat-free read at EOF
// every 200ms costs nothing noticeable per streaming client.
const pollInterval = 200 * time.Millisecond

// ctxCheckEvery is how many entries are copied between checks of the
// context, so a long log stops soon after the client goes away.
const ctxCheckEvery = 1024

// Options select what Copy writes; they mirror the query parameters of the
// kubelet's containerLogs endpoint.
type Options struct {
	// Timestamps prefixes each line with the time of its first entry, in
	// RFC3339Nano and a space.
	Timestamps bool
	// SinceTime skips lines whose first entry is older; zero keeps all.
	SinceTime time.Time
	// TailLines keeps only the last lines, counted when Copy starts; -1
	// keeps all.
	TailLines int64
	// LimitBytes stops the output after this many bytes, timestamps
	// included; 0 means no limit.
	LimitBytes int64
	// Follow keeps copying entries appended to the file until the context
	// ends.
	Follow bool
}

// errLimit ends a copy that reached Options.LimitBytes.
var errLimit = errors.New("byte limit reached")

// Copy writes the content of the CRI log file at path to w as the kubelet
// does for `kubectl logs`: the container's own bytes with partial entries
// joined, stdout and stderr interleaved in file order, and malformed lines
// skipped. Without Follow it copies the file as it was when Copy opened it
// and returns; with Follow it then polls for appended entries, flushing w
// after each batch when w is an http.Flusher, and returns nil once ctx is
// done. A partially written final line is held back while following and
// copied as it is otherwise. Copy does not follow the file across rotation.
func Copy(ctx context.Context, w io.Writer, path string, opts Options) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat log: %w", err)
	}
	size := st.Size()
	start, err := tailOffset(f, size, opts.TailLines)
	if err != nil {
		return err
	}
	var src io.Reader = io.NewSectionReader(f, start, size-start)
	if opts.Follow {
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return fmt.Errorf("seek log: %w", err)
		}
		src = f
	}
	c := &copier{
		opts:      opts,
		in:        bufio.NewReaderSize(src, 64<<10),
		out:       bufio.NewWriterSize(w, 32<<10),
		remain:    opts.LimitBytes,
		lineStart: true,
	}
	flusher, _ := w.(http.Flusher)
	var ticker *time.Ticker
	for {
		err := c.batch(ctx)
		if ferr := c.out.Flush(); err == nil && ferr != nil {
			err = fmt.Errorf("write log: %w", ferr)
		}
		if flusher != nil {
			flusher.Flush()
		}
		switch {
		case errors.Is(err, errLimit):
			return nil
		case err != nil:
			return err
		case !opts.Follow:
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if ticker == nil {
			ticker = time.NewTicker(pollInterval)
			defer ticker.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// copier turns entries into output, keeping what it needs between batches.
type copier struct {
	opts Options
	in   *bufio.Reader
	out  *bufio.Writer
	// pending is the start of a line read without its newline yet.
	pending []byte
	// remain is what LimitBytes still allows, if set.
	remain int64
	// lineStart means the next entry begins a line; skip means the line
	// being copied is older than SinceTime.
	lineStart, skip bool
}

// batch copies the entries available now. At the end of the input it
// returns nil, holding back an unterminated line when following.
func (c *copier) batch(ctx context.Context) error {
	for n := 1; ; n++ {
		if n%ctxCheckEvery == 0 && ctx.Err() != nil {
			if c.opts.Follow {
				return nil
			}
			return ctx.Err()
		}
		b, err := c.in.ReadBytes('\n')
		if len(c.pending) > 0 {
			b = append(c.pending, b...)
			c.pending = nil
		}
		if err == io.EOF {
			if c.opts.Follow {
				c.pending = b
				return nil
			}
			if len(b) == 0 {
				return nil
			}
		} else if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		if err := c.entry(b); err != nil {
			return err
		}
		if err == io.EOF {
			return nil
		}
	}
}

// entry copies one raw line of the file.
func (c *copier) entry(b []byte) error {
	e, err := ParseLine(b)
	if err != nil {
		return nil // not an entry; the kubelet skips these too
	}
	if c.lineStart {
		c.skip = !c.opts.SinceTime.IsZero() && e.Time.Before(c.opts.SinceTime)
		if c.opts.Timestamps && !c.skip {
			var ts [len(time.RFC3339Nano) + 8]byte
			if err := c.write(append(e.Time.AppendFormat(ts[:0], time.RFC3339Nano), ' ')); err != nil {
				return err
			}
		}
	}
	c.lineStart = !e.Partial
	if c.skip {
		return nil
	}
	if err := c.write(e.Content); err != nil {
		return err
	}
	if !e.Partial && len(b) > 0 && b[len(b)-1] == '\n' {
		return c.write([]byte{'\n'})
	}
	return nil
}

// write copies p to the output, up to the byte limit.
func (c *copier) write(p []byte) error {
	limited := c.opts.LimitBytes > 0
	if limited && int64(len(p)) >= c.remain {
		p = p[:c.remain]
	}
	if _, err := c.out.Write(p); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	if limited {
		c.remain -= int64(len(p))
		if c.remain == 0 {
			return errLimit
		}
	}
	return nil
}
