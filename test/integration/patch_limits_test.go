package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svcnet/svcnet/test/integration/framework"
)

// TestJSONPatchLimits checks the bounds kube-apiserver puts on JSON
// patches (CVE-2019-1002100): a patch bomb, a few "copy" operations each
// doubling the document, is refused with 413 before it grows, as is a
// patch of more than 10,000 operations; the object stays as it was, and
// ordinary copies still work.
func TestJSONPatchLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ts := framework.Start(t, framework.Options{})
	cms := ts.Client.CoreV1().ConfigMaps("default")
	orig, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bomb"},
		Data: map[string]string{"seed": strings.Repeat("x", 1024)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type op struct {
		Op    string `json:"op"`
		From  string `json:"from,omitempty"`
		Path  string `json:"path"`
		Value any    `json:"value,omitempty"`
	}
	patch := func(ops []op) error {
		body, err := json.Marshal(ops)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cms.Patch(ctx, "bomb", types.JSONPatchType, body, metav1.PatchOptions{})
		return err
	}
	// Each copy of /data into a key of its own doubles it: 2^40 KiB
	// unbounded.
	var bomb []op
	for i := range 40 {
		bomb = append(bomb, op{Op: "copy", From: "/data", Path: fmt.Sprintf("/data/k%d", i)})
	}
	tests := []struct {
		name string
		ops  []op
		want func(error) bool
	}{
		{name: "copy bomb", ops: bomb, want: apierrors.IsRequestEntityTooLargeError},
		{name: "too many operations", ops: func() []op {
			var ops []op
			for range 10001 {
				ops = append(ops, op{Op: "test", Path: "/data/seed", Value: strings.Repeat("x", 1024)})
			}
			return ops
		}(), want: apierrors.IsRequestEntityTooLargeError},
		{name: "ordinary copy", ops: []op{{Op: "copy", From: "/data/seed", Path: "/data/again"}},
			want: func(err error) bool { return err == nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := patch(tc.ops); !tc.want(err) {
				t.Fatalf("got %v", err)
			}
		})
	}
	got, err := cms.Get(ctx, "bomb", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != 2 || got.Data["again"] != orig.Data["seed"] {
		t.Errorf("after the refused patches the ConfigMap has %d keys, want seed and again only", len(got.Data))
	}
}
