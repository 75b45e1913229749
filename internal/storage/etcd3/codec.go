package etcd3

import (
	"fmt"
	"reflect"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// codec turns objects into stored bytes and back.
type codec struct {
	scheme *runtime.Scheme
	json   *json.Serializer
}

func newCodec(scheme *runtime.Scheme) *codec {
	return &codec{
		scheme: scheme,
		json:   json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{}),
	}
}

// encode returns the stored form of obj: a copy with apiVersion and kind
// set and resourceVersion and selfLink cleared. obj is not modified.
func (c *codec) encode(obj runtime.Object) ([]byte, error) {
	obj = obj.DeepCopyObject()
	if _, ok := obj.(runtime.Unstructured); !ok {
		gvks, _, err := c.scheme.ObjectKinds(obj)
		if err != nil {
			return nil, fmt.Errorf("encoding %T: %w", obj, err)
		}
		obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	acc.SetResourceVersion("")
	acc.SetSelfLink("")
	data, err := runtime.Encode(c.json, obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	return data, nil
}

// decode fills into (reset first) from stored bytes and sets its
// resourceVersion to rev. Typed objects come back without apiVersion and
// kind, as clients decode them.
func (c *codec) decode(data []byte, into runtime.Object, rev int64) error {
	v := reflect.ValueOf(into)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("decoding into %T: not a non-nil pointer", into)
	}
	v.Elem().Set(reflect.Zero(v.Elem().Type()))
	got, _, err := c.json.Decode(data, nil, into)
	if err != nil {
		return fmt.Errorf("decoding into %T: %w", into, err)
	}
	if got != into {
		return fmt.Errorf("decoding into %T: stored object is a %T", into, got)
	}
	if _, ok := into.(runtime.Unstructured); !ok {
		into.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	}
	return setResourceVersion(into, rev)
}

func setResourceVersion(obj runtime.Object, rev int64) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	acc.SetResourceVersion(formatRV(rev))
	return nil
}

// newLike returns a new zero object of obj's type.
func newLike(obj runtime.Object) runtime.Object {
	return reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
}

func formatRV(rev int64) string { return strconv.FormatInt(rev, 10) }

// parseRV parses a resourceVersion; "" is 0.
func parseRV(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid resource version %q", rv)
	}
	return n, nil
}
