package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// APIResult is the time to list every Service and every EndpointSlice of
// the namespace, the median of a few lists each.
type APIResult struct {
	Services       int     `json:"services"`
	ListServicesMs float64 `json:"listServicesMs"`
	Slices         int     `json:"endpointSlices"`
	ListSlicesMs   float64 `json:"listEndpointSlicesMs"`
	// ItemsPerSec is the list throughput: items of both lists per second.
	ItemsPerSec float64 `json:"itemsPerSec"`
	Lists       int     `json:"listsEach"`
}

// apiLists lists the Services and EndpointSlices of namespace default
// lists times each, without paging (as a client-go informer's first list
// of a watch cache miss would, in one response).
func apiLists(ctx context.Context, client kubernetes.Interface, lists int) (APIResult, error) {
	res := APIResult{Lists: lists}
	var svcT, sliceT []time.Duration
	for range lists {
		t0 := time.Now()
		svcs, err := client.CoreV1().Services("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return res, fmt.Errorf("list services: %w", err)
		}
		svcT = append(svcT, time.Since(t0))
		res.Services = len(svcs.Items)
		t0 = time.Now()
		slices, err := client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return res, fmt.Errorf("list endpointslices: %w", err)
		}
		sliceT = append(sliceT, time.Since(t0))
		res.Slices = len(slices.Items)
	}
	res.ListServicesMs, _ = pcts(svcT)
	res.ListSlicesMs, _ = pcts(sliceT)
	if total := res.ListServicesMs + res.ListSlicesMs; total > 0 {
		res.ItemsPerSec = float64(res.Services+res.Slices) / (total / 1000)
	}
	return res, nil
}

// ChurnResult is the latency from a pod turning Ready (its watch event
// reaching the bench) to its Service answering from that pod, with every
// churn pod flipped at once each round.
type ChurnResult struct {
	Pods      int       `json:"pods"`
	Rounds    int       `json:"rounds"`
	Via       string    `json:"via"`
	P50Ms     float64   `json:"p50Ms"`
	P99Ms     float64   `json:"p99Ms"`
	MaxMs     float64   `json:"maxMs"`
	SamplesMs []float64 `json:"samplesMs"`
	// Metric is the proxy's network_programming_duration histogram over
	// the churn (trigger times come from the EndpointSlice annotation).
	Metric *HistogramSummary `json:"networkProgrammingMetric,omitempty"`
}

// readyFile is the file whose presence makes churn pod name Ready (its
// exec readiness probe tests it).
func readyFile(name string) string { return "/tmp/svcnet-bench-ready-" + name }

// readyWatch records when each pod's Ready condition was last seen to
// turn true, as the watch events arrive.
type readyWatch struct {
	mu      sync.Mutex
	ready   map[string]bool
	readyAt map[string]time.Time
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (rw *readyWatch) run(w watch.Interface) {
	for ev := range w.ResultChan() {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		now := time.Now()
		r := podReady(p) && ev.Type != watch.Deleted
		rw.mu.Lock()
		if r && !rw.ready[p.Name] {
			rw.readyAt[p.Name] = now
		}
		rw.ready[p.Name] = r
		rw.mu.Unlock()
	}
}

func (rw *readyWatch) get(name string) (bool, time.Time) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.ready[name], rw.readyAt[name]
}

// churn flips the readiness of every app=churn pod off and on, rounds
// times; each pod has Service churn-... of the same name selecting it
// alone. Each round turns every pod unready and waits until its Service
// stops answering, then turns every pod ready at once and measures, per
// pod, from its Ready event to the first answer of its Service from it.
func churn(ctx context.Context, client kubernetes.Interface, rounds int, nodeIP string) (ChurnResult, error) {
	res := ChurnResult{Rounds: rounds, Via: via(nodeIP)}
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=churn"})
	if err != nil {
		return res, fmt.Errorf("list pods: %w", err)
	}
	res.Pods = len(pods.Items)
	type target struct{ name, svcURL string }
	var targets []target
	for _, p := range pods.Items {
		svc, err := client.CoreV1().Services("default").Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return res, fmt.Errorf("service %s: %w", p.Name, err)
		}
		targets = append(targets, target{name: p.Name, svcURL: "http://" + serviceAddr(svc, nodeIP) + "/hostname"})
	}
	w, err := client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=churn",
		ResourceVersion: pods.ResourceVersion})
	if err != nil {
		return res, fmt.Errorf("watch pods: %w", err)
	}
	defer w.Stop()
	rw := &readyWatch{ready: map[string]bool{}, readyAt: map[string]time.Time{}}
	for i := range pods.Items {
		rw.ready[pods.Items[i].Name] = podReady(&pods.Items[i])
	}
	go rw.run(w)
	// The pods run as processes of this node, whose files they see: this
	// process, on the same node, makes and removes their ready files itself.
	setReady := func(name string, ready bool) error {
		if ready {
			return os.WriteFile(readyFile(name), nil, 0o644)
		}
		if err := os.Remove(readyFile(name)); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	var got []time.Duration
	var mu sync.Mutex
	for round := 0; round < rounds; round++ {
		// Off: every pod unready, and its Service no longer answering.
		g, gctx := errgroup.WithContext(ctx)
		for _, tg := range targets {
			g.Go(func() error {
				if err := setReady(tg.name, false); err != nil {
					return fmt.Errorf("unready %s: %w", tg.name, err)
				}
				return stopsAnswering(gctx, tg.svcURL, time.Minute)
			})
		}
		if err := g.Wait(); err != nil {
			return res, fmt.Errorf("round %d off: %w", round, err)
		}
		// On: every pod ready at once.
		g, gctx = errgroup.WithContext(ctx)
		for _, tg := range targets {
			g.Go(func() error {
				start := time.Now()
				if err := setReady(tg.name, true); err != nil {
					return fmt.Errorf("ready %s: %w", tg.name, err)
				}
				d, err := firstAnswer(gctx, tg.svcURL, tg.name, start, time.Minute)
				if err != nil {
					return err
				}
				answered := start.Add(d)
				deadline := time.Now().Add(30 * time.Second)
				for {
					ready, at := rw.get(tg.name)
					if ready && at.After(start) {
						mu.Lock()
						got = append(got, answered.Sub(at))
						mu.Unlock()
						return nil
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("%s answered but no Ready event within 30s", tg.name)
					}
					time.Sleep(5 * time.Millisecond) // poll interval
				}
			})
		}
		if err := g.Wait(); err != nil {
			return res, fmt.Errorf("round %d on: %w", round, err)
		}
	}
	for _, d := range got {
		res.SamplesMs = append(res.SamplesMs, ms(d))
	}
	res.P50Ms, res.P99Ms = pcts(got)
	res.MaxMs = ms(got[len(got)-1])
	return res, nil
}

// stopsAnswering polls url until two attempts in a row fail.
func stopsAnswering(ctx context.Context, url string, timeout time.Duration) error {
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 300 * time.Millisecond}
	deadline := time.Now().Add(timeout)
	fails := 0
	for fails < 2 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still answering after %v", url, timeout)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			fails++
		} else {
			fails = 0
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	return ctx.Err()
}

func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b)
}
