package rest

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// Media types the server reads and writes.
const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// outputKind is what representation the client asked for.
type outputKind int

const (
	outputObject outputKind = iota
	outputTable
	outputPartialMetadata
)

// accepted is the outcome of content negotiation for a response.
type accepted struct {
	mediaType string
	kind      outputKind
}

// Codecs bundles the serializers of the server.
type Codecs struct {
	Scheme *runtime.Scheme
	// Factory is the codec factory over Scheme (no conversion: svcnet
	// stores and serves versioned types only).
	Factory serializer.CodecFactory
	strict  map[string]runtime.Serializer
	lenient map[string]runtime.Serializer
}

// NewCodecs returns the codecs of scheme.
func NewCodecs(scheme *runtime.Scheme) *Codecs {
	mf := json.DefaultMetaFactory
	return &Codecs{
		Scheme:  scheme,
		Factory: serializer.NewCodecFactory(scheme),
		strict: map[string]runtime.Serializer{
			mediaJSON: json.NewSerializerWithOptions(mf, scheme, scheme, json.SerializerOptions{Strict: true}),
			mediaYAML: json.NewSerializerWithOptions(mf, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true}),
		},
		lenient: map[string]runtime.Serializer{
			mediaJSON: json.NewSerializerWithOptions(mf, scheme, scheme, json.SerializerOptions{}),
			mediaYAML: json.NewSerializerWithOptions(mf, scheme, scheme, json.SerializerOptions{Yaml: true}),
		},
	}
}

// negotiate picks the response representation from the Accept header.
// Unsupported but parseable types fall back to JSON, which every
// Kubernetes client decodes by the response's Content-Type.
func negotiate(r *http.Request) (accepted, error) {
	header := r.Header.Get("Accept")
	if header == "" {
		return accepted{mediaType: mediaJSON}, nil
	}
	for _, clause := range strings.Split(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(clause))
		if err != nil {
			continue
		}
		a := accepted{mediaType: mt}
		switch mt {
		case mediaJSON, mediaYAML, mediaProtobuf:
		case "*/*", "application/*":
			a.mediaType = mediaJSON
		default:
			continue
		}
		switch params["as"] {
		case "":
		case "Table":
			if params["g"] != "meta.k8s.io" || (params["v"] != "v1" && params["v"] != "v1beta1") {
				continue
			}
			a.kind = outputTable
			if a.mediaType == mediaProtobuf {
				continue
			}
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			if params["g"] != "meta.k8s.io" || params["v"] != "v1" {
				continue
			}
			a.kind = outputPartialMetadata
		default:
			continue
		}
		return a, nil
	}
	return accepted{}, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "get", schema.GroupResource{}, "",
		fmt.Sprintf("only the following media types are accepted: %s, %s, %s", mediaJSON, mediaYAML, mediaProtobuf), 0, false)
}

// encode serializes obj for media type mt, stamping apiVersion/kind of gv.
func (c *Codecs) encode(mt string, obj runtime.Object, gv schema.GroupVersion) ([]byte, error) {
	info, ok := runtime.SerializerInfoForMediaType(c.Factory.SupportedMediaTypes(), mt)
	if !ok {
		info, _ = runtime.SerializerInfoForMediaType(c.Factory.SupportedMediaTypes(), mediaJSON)
	}
	enc := c.Factory.WithoutConversion().EncoderForVersion(info.Serializer, gv)
	var buf bytes.Buffer
	if err := enc.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// bodyMediaType returns the media type of a request body, JSON by default.
func bodyMediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return mediaJSON
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

// decodeBody decodes a request body of media type mt into into. With
// strict field validation unknown or duplicate fields are an error; with
// "Warn" they come back as warnings; with "Ignore" they are dropped.
func (c *Codecs) decodeBody(mt string, body []byte, into runtime.Object, validation string) (runtime.Object, []string, error) {
	if mt == mediaProtobuf {
		info, _ := runtime.SerializerInfoForMediaType(c.Factory.SupportedMediaTypes(), mt)
		obj, _, err := info.Serializer.Decode(body, nil, into)
		return obj, nil, err
	}
	strict, ok := c.strict[mt]
	if !ok {
		return nil, nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s",
				mediaJSON, mediaYAML, mediaProtobuf), 0, false)
	}
	if validation == metav1.FieldValidationIgnore {
		obj, _, err := c.lenient[mt].Decode(body, nil, into)
		return obj, nil, err
	}
	obj, _, err := strict.Decode(body, nil, into)
	if err == nil {
		return obj, nil, nil
	}
	if !runtime.IsStrictDecodingError(err) {
		return nil, nil, err
	}
	if validation == metav1.FieldValidationStrict {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	var warnings []string
	if sde, ok := runtime.AsStrictDecodingError(err); ok {
		for _, e := range sde.Errors() {
			warnings = append(warnings, e.Error())
		}
	}
	if obj == nil {
		obj, _, err = c.lenient[mt].Decode(body, nil, into)
		if err != nil {
			return nil, nil, err
		}
	}
	if validation != metav1.FieldValidationWarn && validation != "" {
		warnings = nil
	}
	return obj, warnings, nil
}
