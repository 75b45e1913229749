package secret

import corev1 "k8s.io/api/core/v1"

// Default sets type Opaque when empty and folds stringData into data, as
// upstream's conversion does (stringData wins over data for the same
// key); stringData is never stored.
func Default(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}
