package cni

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// pluginRun is one plugin call as a container runtime makes it.
type pluginRun struct {
	binDir, netnsPath, containerID string
}

// exec runs the plugin named by conf's type with command (ADD or DEL) and
// returns its stdout.
func (r pluginRun) exec(t *testing.T, command string, conf map[string]any) []byte {
	t.Helper()
	stdin, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(r.binDir, conf["type"].(string)))
	cmd.Env = append(os.Environ(),
		"CNI_COMMAND="+command,
		"CNI_CONTAINERID="+r.containerID,
		"CNI_NETNS="+r.netnsPath,
		"CNI_IFNAME=eth0",
		"CNI_PATH="+r.binDir,
	)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdin: %s\nstdout: %s\nstderr: %s", command, conf["type"], err, stdin, &stdout, &stderr)
	}
	return stdout.Bytes()
}

// pluginConf is what the runtime passes one plugin of a list: the plugin's
// own configuration, the list's name and version, the previous plugin's
// result and the runtime config of the capabilities the plugin declares.
func pluginConf(list map[string]any, plugin map[string]any, prev json.RawMessage, runtime map[string]any) map[string]any {
	conf := map[string]any{"name": list["name"], "cniVersion": list["cniVersion"]}
	for k, v := range plugin {
		if k != "capabilities" {
			conf[k] = v
		}
	}
	if prev != nil {
		conf["prevResult"] = prev
	}
	caps, _ := plugin["capabilities"].(map[string]any)
	rc := map[string]any{}
	for c, on := range caps {
		if v, ok := runtime[c]; ok && on == true {
			rc[c] = v
		}
	}
	if len(rc) > 0 {
		conf["runtimeConfig"] = rc
	}
	return conf
}

// startPodNetns starts a process in a network namespace of its own, the
// pod's, and returns the path of that namespace.
func startPodNetns(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("unshare", "--net", "sh", "-c", "echo ready; exec sleep infinity")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a pod network namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("pod namespace holder said %q, %v", line, err)
	}
	return fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
}

// TestConflistWithRealPlugins runs the conflist through Debian's or the
// upstream plugin binaries as a runtime would: ADD every plugin in order,
// check the pod's network, then DEL in reverse order.
func TestConflistWithRealPlugins(t *testing.T) {
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root inside a fresh network namespace (hack/netns-run.sh)")
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("needs the CNI plugins in /usr/lib/cni")
	}
	binDir, err := FindBinDir()
	if err != nil {
		t.Skipf("CNI plugins: %v", err)
	}
	const bridgeName = "svcnettest0"
	cfg := Config{
		ConfDir:    t.TempDir(),
		BridgeName: bridgeName,
		PodCIDR:    netip.MustParsePrefix("10.250.3.0/24"),
		DataDir:    t.TempDir(),
		MTU:        1400,
	}
	path, err := Write(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var list map[string]any
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if br, err := netlink.LinkByName(bridgeName); err == nil {
			_ = netlink.LinkDel(br)
		}
	})

	run := pluginRun{binDir: binDir, netnsPath: startPodNetns(t), containerID: "svcnet-cni-test"}
	// Port mappings need iptables in this plugin release; without it portmap
	// passes the result through, which still checks it accepts the config.
	runtime := map[string]any{}
	_, iptErr := exec.LookPath("iptables")
	if iptErr == nil {
		runtime["portMappings"] = []map[string]any{{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}}
	}

	// containerd brings up the pod's lo with the loopback plugin of its own.
	run.exec(t, "ADD", map[string]any{"cniVersion": "1.0.0", "name": "cni-loopback", "type": "loopback"})
	var prev json.RawMessage
	plugins := list["plugins"].([]any)
	for _, p := range plugins {
		prev = run.exec(t, "ADD", pluginConf(list, p.(map[string]any), prev, runtime))
	}

	var result struct {
		IPs []struct {
			Address string `json:"address"`
			Gateway string `json:"gateway"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(prev, &result); err != nil {
		t.Fatalf("result %s: %v", prev, err)
	}
	if len(result.IPs) != 1 || result.IPs[0].Address != "10.250.3.2/24" || result.IPs[0].Gateway != "10.250.3.1" {
		t.Errorf("got result %s, want address 10.250.3.2/24 via 10.250.3.1", prev)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "svcnet", "10.250.3.2")); err != nil {
		t.Errorf("host-local did not record the address in dataDir: %v", err)
	}
	checkHost(t, bridgeName)
	checkPod(t, run.netnsPath)
	if iptErr == nil {
		out, err := exec.Command("iptables", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "18080") {
			t.Errorf("portmap: got %q, %v; want a DNAT chain for port 18080", out, err)
		}
	}

	for _, p := range slices.Backward(plugins) {
		run.exec(t, "DEL", pluginConf(list, p.(map[string]any), prev, runtime))
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "svcnet", "10.250.3.2")); !os.IsNotExist(err) {
		t.Errorf("got %v, want the address released after DEL", err)
	}
	pod, err := podHandle(run.netnsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pod.Close()
	if _, err := pod.LinkByName("eth0"); err == nil {
		t.Errorf("pod eth0 still exists after DEL")
	}
}

// checkHost checks the bridge and the pod's host-side veth.
func checkHost(t *testing.T, bridgeName string) {
	t.Helper()
	br, err := netlink.LinkByName(bridgeName)
	if err != nil {
		t.Fatalf("bridge: %v", err)
	}
	addrs, err := netlink.AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.250.3.1/24" {
		t.Errorf("got bridge addresses %v, want 10.250.3.1/24", addrs)
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var ports []netlink.Link
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			ports = append(ports, l)
		}
	}
	if len(ports) != 1 {
		t.Fatalf("got %d bridge ports, want the pod's veth", len(ports))
	}
	if got := ports[0].Attrs().MTU; got != 1400 {
		t.Errorf("got veth MTU %d, want 1400", got)
	}
	pi, err := netlink.LinkGetProtinfo(ports[0])
	if err != nil {
		t.Fatal(err)
	}
	if !pi.Hairpin {
		t.Errorf("got hairpin off on %s, want on so a pod reaches itself through a Service", ports[0].Attrs().Name)
	}
	fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil || string(fwd) != "1\n" {
		t.Errorf("got ip_forward %q, %v; want 1 (isGateway)", fwd, err)
	}
}

// checkPod checks the pod's interface and default route.
func checkPod(t *testing.T, netnsPath string) {
	t.Helper()
	pod, err := podHandle(netnsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pod.Close()
	eth0, err := pod.LinkByName("eth0")
	if err != nil {
		t.Fatalf("pod eth0: %v", err)
	}
	if got := eth0.Attrs().MTU; got != 1400 {
		t.Errorf("got pod MTU %d, want 1400", got)
	}
	addrs, err := pod.AddrList(eth0, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.250.3.2/24" {
		t.Errorf("got pod addresses %v, want 10.250.3.2/24", addrs)
	}
	routes, err := pod.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var defaults []string
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			defaults = append(defaults, fmt.Sprint(r.Gw))
		}
	}
	if !slices.Equal(defaults, []string{net.ParseIP("10.250.3.1").String()}) {
		t.Errorf("got default routes via %v, want one via 10.250.3.1", defaults)
	}
	lo, err := pod.LinkByName("lo")
	if err != nil || lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("got pod lo %v, %v; want it up", lo, err)
	}
}

// podHandle returns a netlink handle in the pod's namespace.
func podHandle(netnsPath string) (*netlink.Handle, error) {
	ns, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}
