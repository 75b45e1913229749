package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// DNSConfig describes one DNS load run: A queries for
// svc-<0..Names-1>.<Domain> sent to Server by Workers UDP clients.
type DNSConfig struct {
	Server   string
	Domain   string
	Names    int
	Workers  int
	Warmup   time.Duration
	Duration time.Duration
}

// runDNS counts answered queries with at least one A record; NXDOMAIN,
// SERVFAIL, empty answers and timeouts are errors.
func runDNS(cfg DNSConfig) Result {
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	samples := make([][]time.Duration, cfg.Workers)
	var errs atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: time.Second}
			var conn *dns.Conn
			for ctx.Err() == nil {
				if conn == nil {
					var err error
					if conn, err = c.Dial(cfg.Server); err != nil {
						errs.Add(1)
						continue
					}
				}
				m := new(dns.Msg)
				m.SetQuestion(fmt.Sprintf("svc-%d.%s.", rand.IntN(cfg.Names), cfg.Domain), dns.TypeA)
				t0 := time.Now()
				in, _, err := c.ExchangeWithConnContext(ctx, m, conn)
				t1 := time.Now()
				if t1.After(end) {
					break
				}
				ok := err == nil && in.Rcode == dns.RcodeSuccess && len(in.Answer) > 0
				if !ok {
					if t0.After(measureFrom) {
						errs.Add(1)
					}
					if err != nil {
						conn.Close()
						conn = nil
					}
					continue
				}
				if t0.After(measureFrom) {
					samples[w] = append(samples[w], t1.Sub(t0))
				}
			}
			if conn != nil {
				conn.Close()
			}
		}()
	}
	wg.Wait()
	return summarise(samples, errs.Load(), cfg.Duration)
}
