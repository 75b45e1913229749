package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// waitingPod mounts a Secret that does not exist yet.
const waitingPod = `apiVersion: v1
kind: Pod
metadata:
  name: waiting
spec:
  volumes:
  - name: later
    secret:
      secretName: later
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "exec sleep 3600"]
    volumeMounts:
    - {name: later, mountPath: /etc/later}
`

// volumesPod has a volume of each other kind: downwardAPI, projected
// (ConfigMap + downward API), and an emptyDir shared by two containers,
// one of them through a subPath.
const volumesPod = `apiVersion: v1
kind: Pod
metadata:
  name: volumes
  labels: {app: volumes, tier: test}
spec:
  volumes:
  - name: podinfo
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
  - name: all-in-one
    projected:
      sources:
      - configMap:
          name: nginxconfigmap
          items: [{key: default.conf, path: conf/nginx.conf, mode: 0600}]
      - downwardAPI:
          items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]
  - name: scratch
    emptyDir: {}
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "mkdir -p /scratch/sub && echo from-main > /scratch/sub/hello; exec sleep 3600"]
    volumeMounts:
    - {name: podinfo, mountPath: /etc/podinfo}
    - {name: all-in-one, mountPath: /var/run/all-in-one, readOnly: true}
    - {name: scratch, mountPath: /scratch}
  - name: side
    image: busybox
    command: [sh, -c, "exec sleep 3600"]
    volumeMounts:
    - {name: scratch, mountPath: /data, subPath: sub}
`

// TestSecureService runs the "securing the Service" part of the
// "Connecting Applications with Services" tutorial with stock kubectl: a
// TLS Secret and a ConfigMap mounted into an HTTPS nginx, checked from a
// client pod with the certificate as CA, through a NodePort and through a
// LoadBalancer made with kubectl edit.
func TestSecureService(t *testing.T) {
	n := framework.StartNode(t, "--loadbalancer-ip-pool", "172.30.0.240/28")
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "nginx.key"), filepath.Join(dir, "nginx.crt")
	certPEM := writeKeyPair(t, keyFile, certFile)
	examples := examplesDir()

	// A pod whose Secret is missing waits in ContainerCreating.
	n.Apply(waitingPod)

	if out := n.MustKubectl("create", "secret", "tls", "nginxsecret", "--key", keyFile, "--cert", certFile); out != "secret/nginxsecret created\n" {
		t.Errorf("create secret tls printed %q", out)
	}
	if out := n.MustKubectl("get", "secrets"); !regexp.MustCompile(`(?m)^NAME +TYPE +DATA +AGE\nnginxsecret +kubernetes.io/tls +2 +\S+$`).MatchString(out) {
		t.Errorf("kubectl get secrets:\n%s", out)
	}
	if out := n.MustKubectl("create", "configmap", "nginxconfigmap", "--from-file="+filepath.Join(examples, "secure", "default.conf")); out != "configmap/nginxconfigmap created\n" {
		t.Errorf("create configmap printed %q", out)
	}
	if out := n.MustKubectl("get", "configmaps", "nginxconfigmap"); !regexp.MustCompile(`(?m)^NAME +DATA +AGE\nnginxconfigmap +1 +\S+$`).MatchString(out) {
		t.Errorf("kubectl get configmaps:\n%s", out)
	}
	if out := n.MustKubectl("describe", "configmap", "nginxconfigmap"); !strings.Contains(out, "Data\n====\ndefault.conf:\n----\nserver {\n") ||
		!strings.Contains(out, "BinaryData\n====\n") {
		t.Errorf("kubectl describe configmap:\n%s", out)
	}

	n.Apply(volumesPod)
	n.MustKubectl("create", "-f", filepath.Join(examples, "12-nginx-secure-app.yaml"))
	n.MustKubectl("apply", "-f", filepath.Join(examples, "13-curlpod.yaml"))
	nginxPod := readyPod(t, n, "run=my-nginx")
	curlPod := readyPod(t, n, "app=curlpod")

	t.Run("curl -k to the pod IP from the node", func(t *testing.T) {
		ip := n.MustKubectl("get", "pod", nginxPod, "-o", "jsonpath={.status.podIP}")
		framework.Eventually(t, 30*time.Second, func() error {
			return welcome(n.Exec("curl", "-sk", "-m", "2", "https://"+ip))
		})
		if err := welcome(n.Exec("curl", "-s", "-m", "2", "http://"+ip)); err != nil {
			t.Errorf("HTTP on port 80: %v", err)
		}
	})
	t.Run("secret files in the pod", func(t *testing.T) {
		if out := n.MustKubectl("exec", curlPod, "--", "cat", "/etc/nginx/ssl/tls.crt"); out != string(certPEM) {
			t.Errorf("tls.crt in the pod:\n%s\nwant:\n%s", out, certPEM)
		}
		if out := n.MustKubectl("exec", curlPod, "--", "ls", "/etc/nginx/ssl"); out != "tls.crt\ntls.key\n" {
			t.Errorf("ls /etc/nginx/ssl got %q", out)
		}
		if _, err := n.Kubectl("exec", curlPod, "--", "touch", "/etc/nginx/ssl/x"); err == nil {
			t.Errorf("the secret volume is writable")
		}
		if _, err := os.Stat("/etc/nginx/ssl/tls.crt"); err == nil {
			t.Errorf("the node's /etc/nginx/ssl/tls.crt exists: mounts leaked to the host")
		}
	})
	t.Run("kubectl exec curl https://my-nginx --cacert", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Kubectl("exec", curlPod, "--", "curl", "-s", "https://my-nginx", "--cacert", "/etc/nginx/ssl/tls.crt")
			if err != nil {
				return err
			}
			if !strings.Contains(out, "<title>Welcome to nginx!</title>") {
				return fmt.Errorf("got %q, want the welcome page", out)
			}
			return nil
		})
	})
	t.Run("NodePort https from the node with -k", func(t *testing.T) {
		port := n.MustKubectl("get", "svc", "my-nginx", "-o", "jsonpath={.spec.ports[?(@.name=='https')].nodePort}")
		framework.Eventually(t, 30*time.Second, func() error {
			return welcome(n.Exec("curl", "-sk", "-m", "2", "https://"+framework.NodeIP+":"+port))
		})
	})
	t.Run("downwardAPI, projected and emptyDir volumes", func(t *testing.T) {
		readyPod(t, n, "app=volumes")
		checks := []struct{ container, cmd, want string }{
			{"main", "cat /etc/podinfo/labels", "app=\"volumes\"\ntier=\"test\""},
			{"main", "cat /etc/podinfo/name", "volumes"},
			{"main", "cat /var/run/all-in-one/ns", "default"},
			{"main", "stat -L -c %a /var/run/all-in-one/conf/nginx.conf", "600\n"},
			{"main", "head -1 /var/run/all-in-one/conf/nginx.conf", "server {\n"},
			{"side", "cat /data/hello", "from-main\n"},
		}
		for _, c := range checks {
			framework.Eventually(t, 20*time.Second, func() error {
				out, err := n.Kubectl("exec", "volumes", "-c", c.container, "--", "sh", "-c", c.cmd)
				if err != nil || out != c.want {
					return fmt.Errorf("%s in %s: got %q (%v), want %q", c.cmd, c.container, out, err, c.want)
				}
				return nil
			})
		}
	})
	t.Run("ConfigMap update reaches the mounted file", func(t *testing.T) {
		n.MustKubectl("patch", "configmap", "nginxconfigmap", "--type=merge", "-p", `{"data":{"default.conf":"# updated\n"}}`)
		framework.Eventually(t, 40*time.Second, func() error {
			out, err := n.Kubectl("exec", nginxPod, "--", "cat", "/etc/nginx/conf.d/default.conf")
			if err != nil || out != "# updated\n" {
				return fmt.Errorf("default.conf in the pod: %q %v", out, err)
			}
			return nil
		})
	})
	t.Run("missing Secret keeps the pod in ContainerCreating until it exists", func(t *testing.T) {
		if out := n.MustKubectl("get", "pod", "waiting"); !regexp.MustCompile(`waiting +0/1 +ContainerCreating `).MatchString(out) {
			t.Errorf("kubectl get pod waiting:\n%s", out)
		}
		framework.Eventually(t, 10*time.Second, func() error {
			out, err := n.Kubectl("get", "events", "--field-selector", "involvedObject.name=waiting,reason=FailedMount",
				"-o", "jsonpath={.items[*].message}")
			if want := `MountVolume.SetUp failed for volume "later" : secret "later" not found`; err != nil || !strings.Contains(out, want) {
				return fmt.Errorf("FailedMount events %q (%v), want %q", out, err, want)
			}
			return nil
		})
		n.MustKubectl("create", "secret", "generic", "later", "--from-literal=k=v")
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Kubectl("exec", "waiting", "--", "cat", "/etc/later/k")
			if err != nil || out != "v" {
				return fmt.Errorf("secret file in the pod: %q %v", out, err)
			}
			return nil
		})
	})
	t.Run("kubectl edit to LoadBalancer and curl the EXTERNAL-IP", func(t *testing.T) {
		edit := append([]string{"env", "KUBE_EDITOR=sed -i s/type:.NodePort/type:\\ LoadBalancer/"}, strings.Fields(kubectlLine(n))...)
		if out := n.MustExec(append(edit, "edit", "svc", "my-nginx")...); out != "service/my-nginx edited\n" {
			t.Errorf("kubectl edit printed %q", out)
		}
		var lbIP string
		framework.Eventually(t, 30*time.Second, func() error {
			lbIP = n.MustKubectl("get", "svc", "my-nginx", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
			if lbIP == "" {
				return fmt.Errorf("no EXTERNAL-IP yet")
			}
			return nil
		})
		if out := n.MustKubectl("get", "svc", "my-nginx"); !regexp.MustCompile(`my-nginx +LoadBalancer +\S+ +` + regexp.QuoteMeta(lbIP) + ` +8080:\d+/TCP,443:\d+/TCP`).MatchString(out) {
			t.Errorf("kubectl get svc my-nginx:\n%s", out)
		}
		framework.Eventually(t, 30*time.Second, func() error {
			return welcome(n.Exec("curl", "-sk", "-m", "2", "https://"+lbIP))
		})
	})
}

// examplesDir is the repository's examples directory.
func examplesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples")
}

// writeKeyPair writes a self-signed key pair for CN=my-nginx, O=my-nginx
// (as the tutorial's openssl command) and returns the certificate PEM.
func writeKeyPair(t *testing.T, keyFile, certFile string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "my-nginx", Organization: []string{"my-nginx"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}

// readyPod waits for the one pod with label selector sel to be Ready and
// returns its name.
func readyPod(t *testing.T, n *framework.Node, sel string) string {
	t.Helper()
	var name string
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := n.Kubectl("get", "pods", "-l", sel, "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err != nil {
			return err
		}
		f := strings.Fields(out)
		if len(f) != 2 || f[1] != "True" {
			return fmt.Errorf("pods %s: %q, want one Ready pod", sel, out)
		}
		name = f[0]
		return nil
	})
	return name
}

// welcome checks that out is nginx's welcome page.
func welcome(out string, err error) error {
	if err != nil {
		return err
	}
	if !strings.Contains(out, "<h1>Welcome to nginx!</h1>") {
		return fmt.Errorf("got %q, want the welcome page", out)
	}
	return nil
}
