package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// LoadConfig describes one HTTP load run against addr (host:port).
type LoadConfig struct {
	Addr     string
	Path     string
	Conns    int
	Warmup   time.Duration
	Duration time.Duration
	// NewConn opens a fresh TCP connection for every request (and resets
	// it afterwards, so no TIME_WAIT piles up); otherwise every worker
	// keeps one connection alive.
	NewConn bool
}

// runLoad runs cfg.Conns closed-loop workers for Warmup+Duration and
// reports only the requests that completed inside the measured window.
func runLoad(cfg LoadConfig) Result {
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: svcnet-bench\r\n\r\n", cfg.Path, cfg.Addr))
	if cfg.NewConn {
		req = []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: svcnet-bench\r\nConnection: close\r\n\r\n",
			cfg.Path, cfg.Addr))
	}
	samples := make([][]time.Duration, cfg.Conns)
	var errs atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < cfg.Conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := worker{addr: cfg.Addr, req: req, newConn: cfg.NewConn}
			defer wk.close()
			for ctx.Err() == nil {
				t0 := time.Now()
				err := wk.do(ctx)
				t1 := time.Now()
				if t1.After(end) {
					return
				}
				if err != nil {
					if t0.After(measureFrom) {
						errs.Add(1)
					}
					wk.close()
					continue
				}
				if t0.After(measureFrom) {
					samples[w] = append(samples[w], t1.Sub(t0))
				}
			}
		}()
	}
	wg.Wait()
	return summarise(samples, errs.Load(), cfg.Duration)
}

// worker is one closed-loop HTTP/1.1 client over a raw TCP connection, so
// the generator's own cost stays small next to the server's.
type worker struct {
	addr    string
	req     []byte
	newConn bool
	conn    *net.TCPConn
	br      *bufio.Reader
}

func (w *worker) do(ctx context.Context) error {
	if w.conn == nil {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(ctx, "tcp", w.addr)
		if err != nil {
			return err
		}
		w.conn = c.(*net.TCPConn)
		if w.br == nil {
			w.br = bufio.NewReaderSize(w.conn, 4096)
		} else {
			w.br.Reset(w.conn)
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = w.conn.SetDeadline(dl)
	}
	if _, err := w.conn.Write(w.req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if w.newConn || resp.Close {
		w.close()
	}
	return nil
}

func (w *worker) close() {
	if w.conn == nil {
		return
	}
	if w.newConn {
		// A reset instead of FIN: no TIME_WAIT on the client side, so
		// ephemeral ports never run out during the run.
		_ = w.conn.SetLinger(0)
	}
	_ = w.conn.Close()
	w.conn = nil
}
