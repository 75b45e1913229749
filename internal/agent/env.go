package agent

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/svcnet/svcnet/internal/agent/downward"
	"github.com/svcnet/svcnet/internal/agent/envvars"
)

// containerEnv resolves a container's environment as kubelet does: envFrom,
// then env in order (values may reference earlier variables and service
// variables with $(NAME)), then the service variables not defined by the
// container.
func (a *Agent) containerEnv(ctx context.Context, pod *v1.Pod, c *v1.Container, podIP string) ([]string, error) {
	svcs, err := a.services.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	sort.Slice(svcs, func(i, j int) bool {
		if svcs[i].Namespace != svcs[j].Namespace {
			return svcs[i].Namespace < svcs[j].Namespace
		}
		return svcs[i].Name < svcs[j].Name
	})
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	svcEnv := envvars.FromServices(envvars.SelectServices(svcs, pod.Namespace, links))

	vals := map[string]string{}
	for _, e := range svcEnv {
		vals[e.Name] = e.Value
	}
	var own []v1.EnvVar
	set := func(name, value string) {
		for i := range own {
			if own[i].Name == name {
				own[i].Value = value
				vals[name] = value
				return
			}
		}
		own = append(own, v1.EnvVar{Name: name, Value: value})
		vals[name] = value
	}
	for _, src := range c.EnvFrom {
		data, err := a.envFromData(ctx, pod.Namespace, src)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(src.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, vals))
			continue
		}
		v, err := a.envValueFrom(ctx, pod, e.ValueFrom, podIP)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		set(e.Name, v)
	}
	var out []string
	for _, e := range envvars.Merge(own, svcEnv) {
		out = append(out, e.Name+"="+e.Value)
	}
	return out, nil
}

// expand replaces $(NAME) with known values; $$ escapes a dollar and
// unknown references stay as written.
func expand(s string, vals map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteByte(s[i])
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := vals[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func (a *Agent) envFromData(ctx context.Context, ns string, src v1.EnvFromSource) (map[string]string, error) {
	switch {
	case src.ConfigMapRef != nil:
		cm, err := a.cfg.Client.CoreV1().ConfigMaps(ns).Get(ctx, src.ConfigMapRef.Name, metav1.GetOptions{})
		if err != nil {
			if src.ConfigMapRef.Optional != nil && *src.ConfigMapRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("configmap %s: %w", src.ConfigMapRef.Name, err)
		}
		return cm.Data, nil
	case src.SecretRef != nil:
		s, err := a.cfg.Client.CoreV1().Secrets(ns).Get(ctx, src.SecretRef.Name, metav1.GetOptions{})
		if err != nil {
			if src.SecretRef.Optional != nil && *src.SecretRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("secret %s: %w", src.SecretRef.Name, err)
		}
		out := map[string]string{}
		for k, v := range s.Data {
			out[k] = string(v)
		}
		for k, v := range s.StringData {
			out[k] = v
		}
		return out, nil
	}
	return nil, nil
}

func (a *Agent) envValueFrom(ctx context.Context, pod *v1.Pod, src *v1.EnvVarSource, podIP string) (string, error) {
	switch {
	case src.FieldRef != nil:
		return downward.FieldValue(pod, src.FieldRef.FieldPath, downward.Addresses{PodIP: podIP, HostIP: a.cfg.NodeIP})
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		cm, err := a.cfg.Client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			if r.Optional != nil && *r.Optional {
				return "", nil
			}
			return "", fmt.Errorf("configmap %s: %w", r.Name, err)
		}
		v, ok := cm.Data[r.Key]
		if !ok && (r.Optional == nil || !*r.Optional) {
			return "", fmt.Errorf("configmap %s has no key %q", r.Name, r.Key)
		}
		return v, nil
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		s, err := a.cfg.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			if r.Optional != nil && *r.Optional {
				return "", nil
			}
			return "", fmt.Errorf("secret %s: %w", r.Name, err)
		}
		v, ok := s.Data[r.Key]
		if !ok && (r.Optional == nil || !*r.Optional) {
			return "", fmt.Errorf("secret %s has no key %q", r.Name, r.Key)
		}
		return string(v), nil
	case src.ResourceFieldRef != nil:
		return "0", nil
	}
	return "", nil
}
