package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// PopulateResult reports the creation of the background Services.
type PopulateResult struct {
	Services int    `json:"services"`
	Via      string `json:"via"`
	// CreateSeconds is the time for all creates to be acknowledged.
	CreateSeconds float64 `json:"createSeconds"`
	CreatesPerSec float64 `json:"createsPerSec"`
	// AllAnsweringSeconds is the time from the first create until every
	// Service's ClusterIP accepted a TCP connection.
	AllAnsweringSeconds float64 `json:"allAnsweringSeconds"`
}

// ProgramResult reports the create-to-answering latency of single
// Services created one after another.
type ProgramResult struct {
	Samples   int       `json:"samples"`
	Present   int       `json:"servicesPresent"`
	Via       string    `json:"via"`
	P50Ms     float64   `json:"p50Ms"`
	MaxMs     float64   `json:"maxMs"`
	SamplesMs []float64 `json:"samplesMs"`
}

func newClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 5000, 10000
	return kubernetes.NewForConfig(cfg)
}

// benchService is a Service on port 80 selecting the bench pod, of type
// NodePort when nodePort is set (for proxy modes that serve no ClusterIP).
func benchService(name string, nodePort bool) *corev1.Service {
	typ := corev1.ServiceTypeClusterIP
	if nodePort {
		typ = corev1.ServiceTypeNodePort
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "svcnet"}},
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

// populate creates count Services svc-0..svc-<count-1> with 16 clients
// and waits until every one accepts a connection: on its ClusterIP, or on
// its NodePort at nodeIP when nodeIP is set.
func populate(ctx context.Context, client kubernetes.Interface, count int, nodeIP string) (PopulateResult, error) {
	const workers = 16
	addrs := make([]string, count)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	next := make(chan int)
	g.Go(func() error {
		defer close(next)
		for i := 0; i < count; i++ {
			select {
			case next <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for w := 0; w < workers; w++ {
		g.Go(func() error {
			for i := range next {
				svc, err := client.CoreV1().Services("default").Create(gctx, benchService(fmt.Sprintf("svc-%d", i),
					nodeIP != ""), metav1.CreateOptions{})
				if err != nil {
					return fmt.Errorf("create svc-%d: %w", i, err)
				}
				addrs[i] = serviceAddr(svc, nodeIP)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return PopulateResult{}, err
	}
	created := time.Since(start)
	deadline := time.Now().Add(3 * time.Minute)
	for i := 0; i < count; i++ {
		for !tcpAnswers(addrs[i], 200*time.Millisecond) {
			if time.Now().After(deadline) {
				return PopulateResult{}, fmt.Errorf("svc-%d (%s) not answering after 3m", i, addrs[i])
			}
			time.Sleep(5 * time.Millisecond) // poll interval
		}
	}
	return PopulateResult{
		Services:            count,
		Via:                 via(nodeIP),
		CreateSeconds:       created.Seconds(),
		CreatesPerSec:       float64(count) / created.Seconds(),
		AllAnsweringSeconds: time.Since(start).Seconds(),
	}, nil
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

// program creates samples Services one at a time and measures, for each,
// the time from sending the create to the first HTTP 200 from its
// ClusterIP (or its NodePort on nodeIP when set). Attempts start every 2ms, each on a new connection (so no
// attempt is stuck in a conntrack entry made before the rules existed).
func program(ctx context.Context, client kubernetes.Interface, samples, present int, nodeIP string) (ProgramResult, error) {
	res := ProgramResult{Samples: samples, Present: present, Via: via(nodeIP)}
	var got []time.Duration
	for i := 0; i < samples; i++ {
		name := fmt.Sprintf("probe-%d", i)
		start := time.Now()
		svc, err := client.CoreV1().Services("default").Create(ctx, benchService(name, nodeIP != ""), metav1.CreateOptions{})
		if err != nil {
			return res, fmt.Errorf("create %s: %w", name, err)
		}
		d, err := firstAnswer(ctx, "http://"+serviceAddr(svc, nodeIP)+"/hostname", start, time.Minute)
		if err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
		got = append(got, d)
		res.SamplesMs = append(res.SamplesMs, ms(d))
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	res.P50Ms, res.MaxMs = ms(percentile(got, 0.5)), ms(got[len(got)-1])
	return res, nil
}

// firstAnswer polls url until an attempt succeeds and returns the time
// from start to that success.
func firstAnswer(ctx context.Context, url string, start time.Time, timeout time.Duration) (time.Duration, error) {
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
			return 0, fmt.Errorf("%s not answering after %v", url, timeout)
		case <-tick.C:
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := hc.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
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
