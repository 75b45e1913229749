package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svcnet/svcnet/test/integration/framework"
)

const helloService = `apiVersion: v1
kind: Service
metadata:
  name: hello-svc
  labels:
    app: hello-world
spec:
  type: NodePort
  ports:
  - port: 8080
    nodePort: 30001
    targetPort: 8080
    protocol: TCP
  selector:
    app: hello-world
`

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-deploy
spec:
  replicas: 10
  selector:
    matchLabels:
      app: hello-world
  template:
    metadata:
      labels:
        app: hello-world
    spec:
      containers:
      - name: hello-ctr
        image: nigelpoulton/k8sbook:latest
        ports:
        - containerPort: 8080
`

func TestKubectlServiceWorkflow(t *testing.T) {
	ts := framework.Start(t, framework.Options{})
	// "" is the default kubectl, whatever its version.
	for _, v := range append([]string{""}, framework.KubectlVersions...) {
		name := "kubectl-" + strings.ReplaceAll(v, ".", "-")
		if v == "" {
			name = "kubectl-default"
		}
		t.Run(name, func(t *testing.T) {
			ns := name
			ts.MustKubectl(t, v, "", "create", "namespace", ns)
			out := ts.MustKubectl(t, v, helloService, "apply", "-n", ns, "-f", "-")
			if want := "service/hello-svc created"; !strings.Contains(out, want) {
				t.Errorf("apply: got %q, want %q", out, want)
			}
			out = ts.MustKubectl(t, v, "", "get", "svc", "hello-svc", "-n", ns)
			for _, want := range []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "hello-svc", "NodePort",
				"8080:30001/TCP"} {
				if !strings.Contains(out, want) {
					t.Errorf("get svc: output lacks %q:\n%s", want, out)
				}
			}
			// Applying the same manifest again changes nothing.
			out = ts.MustKubectl(t, v, helloService, "apply", "-n", ns, "-f", "-")
			if want := "service/hello-svc unchanged"; !strings.Contains(out, want) {
				t.Errorf("re-apply: got %q, want %q", out, want)
			}
			out = ts.MustKubectl(t, v, webDeployment, "apply", "-n", ns, "-f", "-")
			if want := "deployment.apps/web-deploy created"; !strings.Contains(out, want) {
				t.Errorf("apply deployment: got %q, want %q", out, want)
			}
			out = ts.MustKubectl(t, v, "", "expose", "deployment", "web-deploy", "-n", ns, "--name=hello-svc2",
				"--target-port=8080", "--type=NodePort")
			if want := "service/hello-svc2 exposed"; !strings.Contains(out, want) {
				t.Errorf("expose: got %q, want %q", out, want)
			}
			out = ts.MustKubectl(t, v, "", "get", "svc", "hello-svc2", "-n", ns, "-o", "wide")
			if !strings.Contains(out, "app=hello-world") || !strings.Contains(out, "SELECTOR") {
				t.Errorf("get -o wide lacks the selector:\n%s", out)
			}
			out = ts.MustKubectl(t, v, "", "describe", "svc", "hello-svc", "-n", ns)
			for _, want := range []string{"Name:", "hello-svc", "Selector:", "app=hello-world", "NodePort:", "30001/TCP"} {
				if !strings.Contains(out, want) {
					t.Errorf("describe lacks %q:\n%s", want, out)
				}
			}
			ts.MustKubectl(t, v, "", "patch", "svc", "hello-svc", "-n", ns, "-p", `{"spec":{"selector":{"app":"blue"}}}`)
			svc, err := ts.Client.CoreV1().Services(ns).Get(context.Background(), "hello-svc", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := svc.Spec.Selector["app"]; got != "blue" {
				t.Errorf("after patch selector app=%q, want blue", got)
			}
			ts.MustKubectl(t, v, "", "scale", "deployment", "web-deploy", "-n", ns, "--replicas=3")
			out = ts.MustKubectl(t, v, "", "get", "deploy", "web-deploy", "-n", ns, "-o", "jsonpath={.spec.replicas}")
			if out != "3" {
				t.Errorf("after scale replicas=%q, want 3", out)
			}
			out = ts.MustKubectl(t, v, "", "delete", "svc", "hello-svc", "-n", ns)
			if want := `service "hello-svc" deleted`; !strings.Contains(out, want) {
				t.Errorf("delete: got %q, want %q", out, want)
			}
			if _, err := ts.Kubectl(t, v, "", "get", "svc", "hello-svc", "-n", ns); err == nil ||
				!strings.Contains(err.Error(), `services "hello-svc" not found`) {
				t.Errorf("get after delete: got %v, want not found", err)
			}
		})
	}
}

func TestServiceValidationErrors(t *testing.T) {
	ts := framework.Start(t, framework.Options{})
	ctx := context.Background()
	port := func(name string, p int32) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: p, TargetPort: intstr.FromInt32(p)}
	}
	tests := []struct {
		name      string
		svc       corev1.Service
		wantField string
	}{
		{"bad name", corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{port("", 80)}}}, "metadata.name"},
		{"unnamed ports", corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "two"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{port("a", 80), port("", 81)}}}, "spec.ports[1].name"},
		{"port out of range", corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "range"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{port("", 70000)}}}, "spec.ports[0].port"},
		{"nodePort out of range", corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 20000}}}}, "spec.ports[0].nodePort"},
		{"clusterIP out of range", corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ip"},
			Spec: corev1.ServiceSpec{ClusterIP: "192.168.1.1", Ports: []corev1.ServicePort{port("", 80)}}}, "spec.clusterIPs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ts.Client.CoreV1().Services("default").Create(ctx, &tc.svc, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("got %v, want 422 Invalid", err)
			}
			status := err.(apierrors.APIStatus).Status()
			found := false
			for _, c := range status.Details.Causes {
				if strings.HasPrefix(c.Field, tc.wantField) {
					found = true
				}
			}
			if !found {
				t.Errorf("causes %+v lack field %s", status.Details.Causes, tc.wantField)
			}
		})
	}
}

func TestConcurrentCreatesNeverDuplicate(t *testing.T) {
	ts := framework.Start(t, framework.Options{})
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i)},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}}
			_, err := ts.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	list, err := ts.Client.CoreV1().Services("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ips, ports := map[string]string{}, map[int32]string{}
	for _, s := range list.Items {
		if other, dup := ips[s.Spec.ClusterIP]; dup {
			t.Errorf("clusterIP %s given to %s and %s", s.Spec.ClusterIP, other, s.Name)
		}
		ips[s.Spec.ClusterIP] = s.Name
		for _, p := range s.Spec.Ports {
			if p.NodePort == 0 {
				continue
			}
			if other, dup := ports[p.NodePort]; dup {
				t.Errorf("nodePort %d given to %s and %s", p.NodePort, other, s.Name)
			}
			ports[p.NodePort] = s.Name
		}
	}
	if got := len(list.Items); got != n+1 { // + default/kubernetes
		t.Errorf("got %d services, want %d", got, n+1)
	}
}

func TestRestartKeepsObjectsAndAllocations(t *testing.T) {
	dir := t.TempDir()
	ts := framework.Start(t, framework.Options{DataDir: dir})
	ctx := context.Background()
	created, err := ts.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "keep"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts.Stop()
	ts2 := framework.Start(t, framework.Options{DataDir: dir})
	got, err := ts2.Client.CoreV1().Services("default").Get(ctx, "keep", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got.Spec.ClusterIP != created.Spec.ClusterIP || got.Spec.Ports[0].NodePort != created.Spec.Ports[0].NodePort {
		t.Errorf("after restart got %s/%d, want %s/%d", got.Spec.ClusterIP, got.Spec.Ports[0].NodePort,
			created.Spec.ClusterIP, created.Spec.Ports[0].NodePort)
	}
	// The same IP and port can no longer be requested by another Service.
	_, err = ts2.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "thief"},
		Spec:       corev1.ServiceSpec{ClusterIP: created.Spec.ClusterIP, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("requesting a taken IP: got %v, want 422 provided IP is already allocated", err)
	}
}
