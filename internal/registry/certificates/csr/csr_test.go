package csr

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
)

// newRequest returns a PEM CSR for CN=cn, O=system:nodes.
func newRequest(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn, Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// badSignature returns req with one byte of its signature flipped.
func badSignature(t *testing.T, req []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(req)
	der := append([]byte(nil), block.Bytes...)
	der[len(der)-1] ^= 0xff
	return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der})
}

// newCertificate returns a PEM self-signed certificate.
func newCertificate(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func newCSR(t *testing.T) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "node-csr-1", ResourceVersion: "5"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    newRequest(t, "system:node:n1"),
			SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			Username:   "system:bootstrap:abcdef",
		},
	}
}

func condition(t certificatesv1.RequestConditionType) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue, Reason: "Test"}
}

// summary renders errors as "field: type: detail", leaving out the bad
// values (a request's bytes).
func summary(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+": "+string(e.Type)+": "+e.Detail)
	}
	return out
}

func TestValidate(t *testing.T) {
	seconds := func(s int32) *int32 { return &s }
	for _, tc := range []struct {
		name   string
		modify func(*certificatesv1.CertificateSigningRequest)
		want   []string
	}{
		{name: "valid", modify: func(*certificatesv1.CertificateSigningRequest) {}},
		{
			name:   "request not PEM",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = []byte("hello") },
			want:   []string{"spec.request: FieldValueInvalid: PEM block type must be CERTIFICATE REQUEST"},
		},
		{
			name:   "request of another PEM type",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = newCertificate(t) },
			want:   []string{"spec.request: FieldValueInvalid: PEM block type must be CERTIFICATE REQUEST"},
		},
		{
			name:   "request with a bad signature",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = badSignature(t, c.Spec.Request) },
			want:   []string{"spec.request: FieldValueInvalid: x509: ECDSA verification failure"},
		},
		{
			name:   "no signer",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "" },
			want:   []string{"spec.signerName: FieldValueRequired: "},
		},
		{
			name:   "signer without path",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com" },
			want:   []string{"spec.signerName: FieldValueInvalid: must be a fully qualified domain and path of the form 'example.com/signer-name'"},
		},
		{
			name:   "signer with two slashes",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com/a/b" },
			want:   []string{"spec.signerName: FieldValueInvalid: must be a fully qualified domain and path of the form 'example.com/signer-name'"},
		},
		{
			name:   "signer domain of one label",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example/signer" },
			want:   []string{"spec.signerName: FieldValueInvalid: should be a domain with at least two segments separated by dots"},
		},
		{
			name:   "signer domain not lower case",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "Example.com/signer" },
			want: []string{`spec.signerName: FieldValueInvalid: validating label "Example": a lowercase RFC 1123 label must consist of lower case ` +
				`alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', ` +
				`regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		},
		{name: "custom signer", modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com/my-signer.v1" }},
		{
			name:   "no usages",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = nil },
			want:   []string{"spec.usages: FieldValueRequired: "},
		},
		{
			name:   "unknown usage",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = append(c.Spec.Usages, "flying") },
			want:   []string{"spec.usages[2]: FieldValueNotSupported: supported values: " + quoted(validUsages)},
		},
		{
			name: "duplicate usage",
			modify: func(c *certificatesv1.CertificateSigningRequest) {
				c.Spec.Usages = append(c.Spec.Usages, "client auth")
			},
			want: []string{"spec.usages[2]: FieldValueDuplicate: "},
		},
		{
			name:   "expiration too short",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = seconds(599) },
			want:   []string{"spec.expirationSeconds: FieldValueInvalid: may not specify a duration less than 600 seconds (10 minutes)"},
		},
		{name: "expiration of ten minutes", modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = seconds(600) }},
		{
			name: "approved and denied",
			modify: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{
					condition(certificatesv1.CertificateApproved), condition(certificatesv1.CertificateDenied)}
			},
			want: []string{"status.conditions: FieldValueInvalid: Approved and Denied conditions are mutually exclusive"},
		},
		{
			name: "duplicate and empty condition types",
			modify: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{
					condition("Custom"), condition("Custom"), {Status: corev1.ConditionTrue}}
			},
			want: []string{"status.conditions[1].type: FieldValueDuplicate: ", "status.conditions[2].type: FieldValueRequired: "},
		},
		{
			name: "failed not true",
			modify: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{
					{Type: certificatesv1.CertificateFailed, Status: corev1.ConditionFalse}, {Type: "Custom"}}
			},
			want: []string{`status.conditions[0].status: FieldValueNotSupported: supported values: "True"`,
				"status.conditions[1].status: FieldValueRequired: "},
		},
		{
			name:   "certificate not PEM",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = []byte("garbage") },
			want:   []string{"status.certificate: FieldValueInvalid: must contain at least one CERTIFICATE PEM block"},
		},
		{
			name:   "certificate of the wrong PEM type",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = c.Spec.Request },
			want:   []string{`status.certificate: FieldValueInvalid: only CERTIFICATE PEM blocks are allowed, found "CERTIFICATE REQUEST"`},
		},
		{
			name:   "name with a slash",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Name = "a/b" },
			want:   []string{`metadata.name: FieldValueInvalid: may not contain '/'`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCSR(t)
			tc.modify(c)
			got := summary(Strategy{}.Validate(context.Background(), c))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func quoted(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = `"` + v + `"`
	}
	return strings.Join(q, ", ")
}

// TestValidateUpdate runs each write path's strategy (prepare, then
// validate) on an update from a stored CSR.
func TestValidateUpdate(t *testing.T) {
	cert := newCertificate(t)
	approved := condition(certificatesv1.CertificateApproved)
	for _, tc := range []struct {
		name   string
		path   string // "", "status" or "approval"
		stored func(*certificatesv1.CertificateSigningRequest)
		modify func(*certificatesv1.CertificateSigningRequest)
		want   []string
	}{
		{name: "labels", modify: func(c *certificatesv1.CertificateSigningRequest) { c.Labels = map[string]string{"a": "b"} }},
		{
			name: "approval approves", path: "approval",
			modify: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, approved)
			},
		},
		{
			name: "approval denies an approved CSR", path: "approval",
			stored: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, approved)
			},
			modify: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateDenied))
			},
			want: []string{"status.conditions: FieldValueInvalid: Approved and Denied conditions are mutually exclusive"},
		},
		{
			name: "approval removes Approved", path: "approval",
			stored: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, approved)
			},
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Status.Conditions = nil },
			want:   []string{`status.conditions: FieldValueForbidden: updates may not remove a condition of type "Approved"`},
		},
		{
			name: "status approves", path: "status",
			modify: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, approved)
			},
			want: []string{`status.conditions: FieldValueForbidden: updates may not add a condition of type "Approved"`},
		},
		{
			name: "object approves",
			// The object's strategy keeps the stored status: nothing to refuse.
			modify: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, approved)
			},
		},
		{
			name: "status issues", path: "status",
			stored: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, approved)
			},
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = cert },
		},
		{
			name: "status fails", path: "status",
			modify: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateFailed))
			},
		},
		{
			name: "status removes Failed", path: "status",
			stored: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateFailed))
			},
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Status.Conditions = nil },
			want:   []string{`status.conditions: FieldValueForbidden: updates may not remove a condition of type "Failed"`},
		},
		{
			name: "status replaces the certificate", path: "status",
			stored: func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = cert },
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = newCertificate(t) },
			want:   []string{"status.certificate: FieldValueForbidden: updates may not modify existing certificate content"},
		},
		{
			name: "status issues garbage", path: "status",
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = []byte("garbage") },
			want:   []string{"status.certificate: FieldValueInvalid: must contain at least one CERTIFICATE PEM block"},
		},
		{
			name: "stored approved and denied stays updatable", path: "approval",
			stored: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, approved, condition(certificatesv1.CertificateDenied))
			},
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Annotations = map[string]string{"a": "b"} },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			old := newCSR(t)
			if tc.stored != nil {
				tc.stored(old)
			}
			upd := old.DeepCopy()
			tc.modify(upd)
			var errs field.ErrorList
			switch tc.path {
			case "":
				Strategy{}.PrepareForUpdate(ctx, upd, old)
				errs = Strategy{}.ValidateUpdate(ctx, upd, old)
			case "status":
				StatusStrategy{}.PrepareForUpdate(ctx, upd, old)
				errs = StatusStrategy{}.ValidateUpdate(ctx, upd, old)
			case "approval":
				ApprovalStrategy{}.PrepareForUpdate(ctx, upd, old)
				errs = ApprovalStrategy{}.ValidateUpdate(ctx, upd, old)
			}
			if diff := cmp.Diff(tc.want, summary(errs)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidationRules checks the validation functions without the
// strategies that would have kept the stored fields.
func TestValidationRules(t *testing.T) {
	old := newCSR(t)
	for _, tc := range []struct {
		name     string
		validate func(c, old *certificatesv1.CertificateSigningRequest) field.ErrorList
		modify   func(*certificatesv1.CertificateSigningRequest)
		want     []string
	}{
		{
			name: "spec change", validate: ValidateCSRUpdate,
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com/other" },
			want:   []string{"spec: FieldValueForbidden: field is immutable"},
		},
		{
			name: "approval sets the certificate", validate: ValidateCSRApprovalUpdate,
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = newCertificate(t) },
			want:   []string{"status.certificate: FieldValueForbidden: updates may not set certificate content"},
		},
		{
			name: "object sets the certificate", validate: ValidateCSRUpdate,
			modify: func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = newCertificate(t) },
			want:   []string{"status.certificate: FieldValueForbidden: updates may not set certificate content"},
		},
		{
			name: "object approves", validate: ValidateCSRUpdate,
			modify: func(c *certificatesv1.CertificateSigningRequest) {
				c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateApproved))
			},
			want: []string{`status.conditions: FieldValueForbidden: updates may not add a condition of type "Approved"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upd := old.DeepCopy()
			tc.modify(upd)
			if diff := cmp.Diff(tc.want, summary(tc.validate(upd, old))); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrepareForCreate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ctx        context.Context
		wantUser   string
		wantGroups []string
	}{
		{
			name:     "requesting user",
			ctx:      authn.WithUser(context.Background(), authn.User{Name: "system:bootstrap:abcdef", Groups: []string{"system:bootstrappers", "system:authenticated"}}),
			wantUser: "system:bootstrap:abcdef", wantGroups: []string{"system:bootstrappers", "system:authenticated"},
		},
		{name: "no user: as sent", ctx: context.Background(), wantUser: "system:bootstrap:abcdef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCSR(t)
			c.Spec.Extra = map[string]certificatesv1.ExtraValue{"k": {"v"}}
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{condition(certificatesv1.CertificateApproved)}
			c.Status.Certificate = newCertificate(t)
			Strategy{}.PrepareForCreate(tc.ctx, c)
			if c.Spec.Username != tc.wantUser || !cmp.Equal(c.Spec.Groups, tc.wantGroups) {
				t.Errorf("got user %q groups %v, want %q %v", c.Spec.Username, c.Spec.Groups, tc.wantUser, tc.wantGroups)
			}
			if len(c.Status.Conditions) != 0 || len(c.Status.Certificate) != 0 {
				t.Errorf("got status %+v, want it cleared", c.Status)
			}
		})
	}
}

func TestPrepareForUpdateKeepsStoredFields(t *testing.T) {
	ctx := context.Background()
	cert := newCertificate(t)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	earlier := metav1.NewTime(now.Add(-time.Hour))
	stored := newCSR(t)
	stored.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{
		{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved", LastTransitionTime: earlier, LastUpdateTime: earlier}}

	// The object: spec and status are the stored ones.
	upd := stored.DeepCopy()
	upd.Spec.SignerName = "example.com/other"
	upd.Status.Certificate = cert
	Strategy{}.PrepareForUpdate(ctx, upd, stored)
	if !cmp.Equal(upd.Spec, stored.Spec) || !cmp.Equal(upd.Status, stored.Status) {
		t.Errorf("object update: got spec %+v status %+v, want the stored ones", upd.Spec, upd.Status)
	}

	// /approval: the certificate is the stored one, conditions are new.
	upd = stored.DeepCopy()
	upd.Status.Certificate = cert
	upd.Status.Conditions = append(upd.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: "Custom", Status: corev1.ConditionTrue})
	ApprovalStrategy{Now: func() time.Time { return now }}.PrepareForUpdate(ctx, upd, stored)
	if len(upd.Status.Certificate) != 0 || len(upd.Status.Conditions) != 2 {
		t.Errorf("approval update: got status %+v, want no certificate and two conditions", upd.Status)
	}
	if got := upd.Status.Conditions[1]; !got.LastUpdateTime.Time.Equal(now) || !got.LastTransitionTime.Time.Equal(now) {
		t.Errorf("approval update: new condition stamped %v/%v, want %v", got.LastUpdateTime, got.LastTransitionTime, now)
	}

	// /status: a changed Approved condition is put back, the certificate kept.
	upd = stored.DeepCopy()
	upd.Status.Conditions[0].Reason = "Changed"
	upd.Status.Certificate = cert
	StatusStrategy{}.PrepareForUpdate(ctx, upd, stored)
	if upd.Status.Conditions[0].Reason != "AutoApproved" || string(upd.Status.Certificate) != string(cert) {
		t.Errorf("status update: got %+v, want the stored Approved condition and the new certificate", upd.Status)
	}
}
