package storage

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// continueVersion is the version field of continue tokens, the same as
// kube-apiserver's so tokens look familiar.
const continueVersion = "meta.k8s.io/v1"

// continueToken is the decoded form of a list continue parameter: the
// revision the first page was read at, and the next key relative to the
// list prefix. Every implementation writes and reads this one format, so
// a store that serves the first page from memory and one that serves the
// next from etcd accept each other's tokens.
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

// EncodeContinue returns the token resuming a list of prefix at nextKey
// (an absolute key below prefix) and revision rev.
func EncodeContinue(prefix, nextKey string, rev int64) (string, error) {
	data, err := json.Marshal(continueToken{
		APIVersion:      continueVersion,
		ResourceVersion: rev,
		StartKey:        strings.TrimPrefix(nextKey, prefix),
	})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(data), nil
}

// DecodeContinue returns the absolute key and revision a token resumes
// at. Malformed tokens are a 400, as upstream.
func DecodeContinue(token, prefix string) (string, int64, error) {
	key, rev, err := parseContinue(token, prefix)
	if err != nil {
		return "", 0, apierrors.NewBadRequest(fmt.Sprintf("continue key is not valid: %v", err))
	}
	return key, rev, nil
}

func parseContinue(token, prefix string) (string, int64, error) {
	data, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", 0, fmt.Errorf("not base64: %w", err)
	}
	var c continueToken
	if err := json.Unmarshal(data, &c); err != nil {
		return "", 0, fmt.Errorf("not JSON: %w", err)
	}
	switch {
	case c.APIVersion != continueVersion:
		return "", 0, fmt.Errorf("unsupported version %q", c.APIVersion)
	case c.ResourceVersion <= 0:
		return "", 0, errors.New("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	case c.StartKey == "":
		return "", 0, errors.New("encoded start key empty (version meta.k8s.io/v1)")
	}
	// The start key must stay below the prefix: no "..", no absolute path.
	cleaned := path.Clean(c.StartKey)
	if strings.HasPrefix(cleaned, "/") || cleaned == ".." || strings.HasPrefix(cleaned, "../") {
		return "", 0, fmt.Errorf("invalid start key %q", c.StartKey)
	}
	return prefix + c.StartKey, c.ResourceVersion, nil
}
