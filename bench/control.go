package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

// PopulateResult reports the creation of the background Services and
// their EndpointSlices, with the API figures of those creates.
type PopulateResult struct {
	// From and Services: svc-<From>..svc-<Services-1> were created.
	From      int    `json:"from"`
	Services  int    `json:"services"`
	Endpoints int    `json:"endpointsPerService"`
	Via       string `json:"via"`
	// CreateSeconds is the time for all creates (Service, then its
	// EndpointSlice) to be acknowledged.
	CreateSeconds float64 `json:"createSeconds"`
	// CreatesPerSec counts API objects (Services and EndpointSlices).
	CreatesPerSec float64 `json:"createsPerSec"`
	// CreateP50Ms, CreateP99Ms: latency of one Service create request.
	CreateP50Ms float64 `json:"createP50Ms"`
	CreateP99Ms float64 `json:"createP99Ms"`
	// WatchP50Ms, WatchP99Ms: from sending a Service create to its ADDED
	// event on a watch opened before.
	WatchP50Ms float64 `json:"watchP50Ms"`
	WatchP99Ms float64 `json:"watchP99Ms"`
	// AllAnsweringSeconds is the time from the first create until every
	// new Service accepted a TCP connection.
	AllAnsweringSeconds float64 `json:"allAnsweringSeconds"`
}

// ProgramResult reports the create-to-answering latency of single
// Services created one after another.
type ProgramResult struct {
	Samples   int       `json:"samples"`
	Present   int       `json:"servicesPresent"`
	Via       string    `json:"via"`
	GapMs     float64   `json:"gapMs"`
	P50Ms     float64   `json:"p50Ms"`
	P99Ms     float64   `json:"p99Ms"`
	MaxMs     float64   `json:"maxMs"`
	SamplesMs []float64 `json:"samplesMs"`
	// SliceMs is, per sample, from the create to the EndpointSlice with
	// the ready web pod showing up on a watch: the controllers' share.
	SliceMs    []float64 `json:"sliceMs"`
	SliceP50Ms float64   `json:"sliceP50Ms"`
}

func newClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 5000, 10000
	return kubernetes.NewForConfig(cfg)
}

// benchService is a Service on port 80 of type NodePort when nodePort is
// set (for proxy modes that serve no ClusterIP); with selector nil it is
// selectorless.
func benchService(name string, selector map[string]string, nodePort bool) *corev1.Service {
	typ := corev1.ServiceTypeClusterIP
	if nodePort {
		typ = corev1.ServiceTypeNodePort
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "svcnet"}},
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

// benchSlice is the hand-written EndpointSlice of selectorless Service
// name: every backend IP, ready, on port 8080.
func benchSlice(name string, backends []string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-bench", Labels: map[string]string{
			discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "svcnet-bench"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080),
			Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, ip := range backends {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}})
	}
	return s
}

// populate creates the selectorless Services svc-<from>..svc-<count-1>,
// each with an EndpointSlice listing every backend, with 48 clients; it
// times each Service create and its ADDED event on a watch, then waits
// until every new Service accepts a connection: on its ClusterIP, or on
// its NodePort at nodeIP when nodeIP is set; with answer false it does not
// wait (no proxy runs).
func populate(ctx context.Context, client kubernetes.Interface, from, count int, backends []string,
	nodeIP string, answer bool) (PopulateResult, error) {
	// More clients than the data-plane load: each create waits on an etcd
	// commit, and concurrent ones share it.
	const workers = 48
	n := count - from
	res := PopulateResult{From: from, Services: count, Endpoints: len(backends), Via: via(nodeIP)}
	if n <= 0 {
		return res, nil
	}
	svcs := client.CoreV1().Services("default")
	// Watch from the current revision, so only the new Services show up.
	list, err := svcs.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return res, fmt.Errorf("list: %w", err)
	}
	w, err := svcs.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: "bench=svcnet"})
	if err != nil {
		return res, fmt.Errorf("watch: %w", err)
	}
	defer w.Stop()
	sent := make([]time.Time, n)
	var sentMu sync.Mutex
	seen := make([]time.Time, n)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		got := 0
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added {
				continue
			}
			var i int
			if _, err := fmt.Sscanf(ev.Object.(*corev1.Service).Name, "svc-%d", &i); err != nil || i < from || i >= count {
				continue
			}
			seen[i-from] = time.Now()
			if got++; got == n {
				return
			}
		}
	}()
	addrs := make([]string, n)
	createLat := make([]time.Duration, n)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	next := make(chan int)
	g.Go(func() error {
		defer close(next)
		for i := from; i < count; i++ {
			select {
			case next <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range workers {
		g.Go(func() error {
			for i := range next {
				name := fmt.Sprintf("svc-%d", i)
				t0 := time.Now()
				sentMu.Lock()
				sent[i-from] = t0
				sentMu.Unlock()
				svc, err := svcs.Create(gctx, benchService(name, nil, nodeIP != ""), metav1.CreateOptions{})
				if err != nil {
					return fmt.Errorf("create %s: %w", name, err)
				}
				createLat[i-from] = time.Since(t0)
				if _, err := client.DiscoveryV1().EndpointSlices("default").Create(gctx, benchSlice(name, backends),
					metav1.CreateOptions{}); err != nil {
					return fmt.Errorf("create slice of %s: %w", name, err)
				}
				addrs[i-from] = serviceAddr(svc, nodeIP)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	created := time.Since(start)
	select {
	case <-watchDone:
	case <-time.After(time.Minute):
		return res, fmt.Errorf("watch: not every ADDED event within 1m of the last create")
	}
	watchLat := make([]time.Duration, n)
	sentMu.Lock()
	for i := range seen {
		watchLat[i] = seen[i].Sub(sent[i])
	}
	sentMu.Unlock()
	res.CreateSeconds = created.Seconds()
	res.CreatesPerSec = float64(2*n) / created.Seconds()
	res.CreateP50Ms, res.CreateP99Ms = pcts(createLat)
	res.WatchP50Ms, res.WatchP99Ms = pcts(watchLat)
	if !answer {
		return res, nil
	}
	deadline := time.Now().Add(3 * time.Minute)
	for i, addr := range addrs {
		for !tcpAnswers(addr, 200*time.Millisecond) {
			if time.Now().After(deadline) {
				return res, fmt.Errorf("svc-%d (%s) not answering after 3m", from+i, addr)
			}
			time.Sleep(5 * time.Millisecond) // poll interval
		}
	}
	res.AllAnsweringSeconds = time.Since(start).Seconds()
	return res, nil
}

// pcts returns the p50 and p99 of d in milliseconds (d is sorted).
func pcts(d []time.Duration) (p50, p99 float64) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return ms(percentile(d, 0.5)), ms(percentile(d, 0.99))
}

// serviceAddr is where a bench Service answers: ClusterIP:80, or
// nodeIP:nodePort when nodeIP is set.
func serviceAddr(svc *corev1.Service, nodeIP string) string {
	if nodeIP != "" {
		return net.JoinHostPort(nodeIP, fmt.Sprint(svc.Spec.Ports[0].NodePort))
	}
	return net.JoinHostPort(svc.Spec.ClusterIP, "80")
}

func tcpAnswers(addr string, timeout time.Duration) bool {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// program creates samples Services (selecting the web pod) one at a time,
// gap apart, and measures for each the time from sending the create to the
// first HTTP 200 from its ClusterIP (or its NodePort on nodeIP when set).
// Attempts start every 2ms, each on a new connection (so no attempt is
// stuck in a conntrack entry made before the rules existed). The gap lets
// the proxy's rate limiter refill, so each sample is a lone change.
func program(ctx context.Context, client kubernetes.Interface, prefix string, samples, present int, gap time.Duration,
	nodeIP string) (ProgramResult, error) {
	res := ProgramResult{Samples: samples, Present: present, Via: via(nodeIP), GapMs: ms(gap)}
	var got []time.Duration
	for i := 0; i < samples; i++ {
		if i > 0 {
			time.Sleep(gap) // pacing between samples, not synchronisation
		}
		name := fmt.Sprintf("%s-%d", prefix, i)
		sw, err := client.DiscoveryV1().EndpointSlices("default").Watch(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + name})
		if err != nil {
			return res, fmt.Errorf("watch slices of %s: %w", name, err)
		}
		sliceAt := make(chan time.Time, 1)
		go func() {
			for ev := range sw.ResultChan() {
				if s, ok := ev.Object.(*discoveryv1.EndpointSlice); ok && len(s.Endpoints) > 0 {
					sliceAt <- time.Now()
					return
				}
			}
		}()
		start := time.Now()
		svc, err := client.CoreV1().Services("default").Create(ctx, benchService(name, map[string]string{"app": "web"},
			nodeIP != ""), metav1.CreateOptions{})
		if err != nil {
			return res, fmt.Errorf("create %s: %w", name, err)
		}
		d, err := firstAnswer(ctx, "http://"+serviceAddr(svc, nodeIP)+"/hostname", "", start, time.Minute)
		if err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
		got = append(got, d)
		res.SamplesMs = append(res.SamplesMs, ms(d))
		select {
		case at := <-sliceAt:
			res.SliceMs = append(res.SliceMs, ms(at.Sub(start)))
		case <-time.After(10 * time.Second):
			res.SliceMs = append(res.SliceMs, -1)
		}
		sw.Stop()
	}
	sl := make([]time.Duration, 0, len(res.SliceMs))
	for _, v := range res.SliceMs {
		sl = append(sl, time.Duration(v*float64(time.Millisecond)))
	}
	res.SliceP50Ms, _ = pcts(sl)
	res.P50Ms, res.P99Ms = pcts(got)
	res.MaxMs = ms(got[len(got)-1])
	return res, nil
}

// firstAnswer polls url until an attempt answers 200 (with body want, when
// set) and returns the time from start to that answer.
func firstAnswer(ctx context.Context, url, want string, start time.Time, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 300 * time.Millisecond}
	var once sync.Once
	done := make(chan time.Duration, 1)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case d := <-done:
			cancel()
			return d, nil
		case <-ctx.Done():
			return 0, fmt.Errorf("%s not answering %q after %v", url, want, timeout)
		case <-tick.C:
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := hc.Do(req)
				if err != nil {
					return
				}
				body := readAll(resp)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && (want == "" || strings.TrimSpace(body) == want) {
					d := time.Since(start)
					once.Do(func() { done <- d })
				}
			}()
		}
	}
}

func via(nodeIP string) string {
	if nodeIP != "" {
		return "nodeport"
	}
	return "clusterip"
}
