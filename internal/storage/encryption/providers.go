package encryption

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
)

// prefix starts every encrypted value.
const prefix = "k8s:enc:"

// provider seals values of one provider type ("aesgcm") with its first key
// and opens those sealed with any of its keys.
type provider interface {
	// seal returns the at-rest form of data stored at key.
	seal(key string, data []byte) ([]byte, error)
	// open returns the plain value if sealed by this provider (ok false:
	// not this provider's).
	open(key string, value []byte) (data []byte, ok bool, err error)
}

type identity struct{}

func (identity) seal(_ string, data []byte) ([]byte, error) { return data, nil }

func (identity) open(_ string, value []byte) ([]byte, bool, error) {
	if bytes.HasPrefix(value, []byte(prefix)) {
		return nil, false, nil
	}
	return value, true, nil
}

type key struct {
	name   string
	secret []byte
}

// sealer is an aesgcm, aescbc or secretbox provider.
type sealer struct {
	name string
	keys []key
}

func newSealer(name string, keys []key) (*sealer, error) {
	s := &sealer{name: name, keys: keys}
	for _, k := range keys { // fail at start on a bad key, not at the first write
		if _, err := s.sealWith(k, "probe", []byte("probe")); err != nil {
			return nil, fmt.Errorf("%s key %s: %w", name, k.name, err)
		}
	}
	return s, nil
}

func (s *sealer) header(k key) []byte { return []byte(prefix + s.name + ":v1:" + k.name + ":") }

func (s *sealer) seal(storageKey string, data []byte) ([]byte, error) {
	return s.sealWith(s.keys[0], storageKey, data)
}

func (s *sealer) open(storageKey string, value []byte) ([]byte, bool, error) {
	for _, k := range s.keys {
		h := s.header(k)
		if !bytes.HasPrefix(value, h) {
			continue
		}
		data, err := s.openWith(k, storageKey, value[len(h):])
		if err != nil {
			return nil, true, fmt.Errorf("%s key %s: %w", s.name, k.name, err)
		}
		return data, true, nil
	}
	return nil, false, nil
}

// sealWith encrypts data. AES-GCM binds the ciphertext to its storage key
// (additional data), so a value copied under another key does not open,
// as upstream binds it.
func (s *sealer) sealWith(k key, storageKey string, data []byte) ([]byte, error) {
	out := s.header(k)
	switch s.name {
	case "aesgcm":
		gcm, err := newGCM(k.secret)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, gcm.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		return gcm.Seal(append(out, nonce...), nonce, data, []byte(storageKey)), nil
	case "aescbc":
		block, err := aes.NewCipher(k.secret)
		if err != nil {
			return nil, err
		}
		iv := make([]byte, aes.BlockSize)
		if _, err := rand.Read(iv); err != nil {
			return nil, err
		}
		pad := aes.BlockSize - len(data)%aes.BlockSize
		plain := append(append([]byte(nil), data...), bytes.Repeat([]byte{byte(pad)}, pad)...)
		ct := make([]byte, len(plain))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
		return append(append(out, iv...), ct...), nil
	default: // secretbox
		var nonce [24]byte
		if _, err := rand.Read(nonce[:]); err != nil {
			return nil, err
		}
		var sk [32]byte
		copy(sk[:], k.secret)
		return secretbox.Seal(append(out, nonce[:]...), data, &nonce, &sk), nil
	}
}

func (s *sealer) openWith(k key, storageKey string, sealed []byte) ([]byte, error) {
	switch s.name {
	case "aesgcm":
		gcm, err := newGCM(k.secret)
		if err != nil {
			return nil, err
		}
		if len(sealed) < gcm.NonceSize() {
			return nil, errors.New("value too short")
		}
		return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(storageKey))
	case "aescbc":
		block, err := aes.NewCipher(k.secret)
		if err != nil {
			return nil, err
		}
		if len(sealed) < 2*aes.BlockSize || len(sealed)%aes.BlockSize != 0 {
			return nil, errors.New("value is not a whole number of blocks")
		}
		iv, ct := sealed[:aes.BlockSize], sealed[aes.BlockSize:]
		plain := make([]byte, len(ct))
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ct)
		pad := int(plain[len(plain)-1])
		if pad == 0 || pad > aes.BlockSize || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
			return nil, errors.New("invalid padding")
		}
		return plain[:len(plain)-pad], nil
	default:
		if len(sealed) < 24 {
			return nil, errors.New("value too short")
		}
		var nonce [24]byte
		copy(nonce[:], sealed[:24])
		var sk [32]byte
		copy(sk[:], k.secret)
		data, ok := secretbox.Open(nil, sealed[24:], &nonce, &sk)
		if !ok {
			return nil, errors.New("authentication failed")
		}
		return data, nil
	}
}

func newGCM(secret []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
