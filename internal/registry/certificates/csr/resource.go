package csr

import (
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes certificates.k8s.io/v1 certificatesigningrequests as
// upstream's discovery does, with its /status and /approval subresources.
func Resource() registry.Resource {
	return registry.Resource{
		Group:              certificatesv1.GroupName,
		Version:            "v1",
		Resource:           "certificatesigningrequests",
		Kind:               "CertificateSigningRequest",
		ListKind:           "CertificateSigningRequestList",
		SingularName:       "certificatesigningrequest",
		ShortNames:         []string{"csr"},
		Verbs:              []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:                func() runtime.Object { return &certificatesv1.CertificateSigningRequest{} },
		NewList:            func() runtime.Object { return &certificatesv1.CertificateSigningRequestList{} },
		Strategy:           Strategy{},
		StatusStrategy:     StatusStrategy{},
		UpdateSubresources: map[string]registry.StatusStrategy{"approval": ApprovalStrategy{}},
		Fields:             Fields,
	}
}

// Fields returns the field-selector set of a CSR: its name and
// spec.signerName.
func Fields(obj runtime.Object) fields.Set {
	csr := obj.(*certificatesv1.CertificateSigningRequest)
	return fields.Set{"metadata.name": csr.Name, "spec.signerName": csr.Spec.SignerName}
}
