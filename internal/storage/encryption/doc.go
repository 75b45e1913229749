// Package encryption encrypts stored values at rest as kube-apiserver
// does, configured by its EncryptionConfiguration file
// (apiserver.config.k8s.io/v1, --encryption-provider-config): per group
// resource an ordered list of providers, the first encrypting new writes
// and all of them tried on reads. Providers: aesgcm, aescbc, secretbox and
// identity (kms is refused: svcnet has no KMS plugin support). Values are
// laid out as upstream lays them out, "k8s:enc:<provider>:v1:<key name>:"
// then the sealed bytes, so a value written with one key stays readable
// while that key is listed, and rotation is re-writing every object.
package encryption
