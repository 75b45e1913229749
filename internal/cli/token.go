package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecrets "k8s.io/cluster-bootstrap/util/secrets"

	"github.com/svcnet/svcnet/internal/pki"
	"github.com/svcnet/svcnet/internal/server"
)

// DefaultTokenGroup is the extra group of the bootstrap tokens `svcnet
// token create` makes (kubeadm's is system:bootstrappers:kubeadm:default-node-token).
const DefaultTokenGroup = "system:bootstrappers:svcnet:default-node-token"

// tokenSpec is a bootstrap token to create.
type tokenSpec struct {
	token       string // <id>.<secret>; empty: a random one
	ttl         time.Duration
	description string
	groups      []string
	usages      []string
}

// newTokenCommand manages bootstrap tokens as `kubeadm token` does, printing
// full join tokens K10<ca hash>::<id>.<secret>.
func newTokenCommand() *cobra.Command {
	dataDir := server.DefaultConfig().DataDir
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and delete bootstrap tokens that nodes join with",
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", dataDir, "the server's --data-dir, whose admin kubeconfig is used")
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "admin kubeconfig (default: <data-dir>/kubeconfig.yaml)")
	connect := func() (kubernetes.Interface, string, error) {
		path := kubeconfig
		if path == "" {
			path = filepath.Join(dataDir, "kubeconfig.yaml")
		}
		return tokenClient(path)
	}

	spec := tokenSpec{}
	create := &cobra.Command{
		Use:   "create [TOKEN]",
		Short: "Create a bootstrap token (random unless TOKEN, [a-z0-9]{6}.[a-z0-9]{16}, is given) and print its join token",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				spec.token = args[0]
			}
			client, caHash, err := connect()
			if err != nil {
				return err
			}
			join, err := createToken(cmd.Context(), client, caHash, spec, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), join)
			return nil
		},
	}
	f := create.Flags()
	f.DurationVar(&spec.ttl, "ttl", 24*time.Hour, "how long the token is valid (0: forever)")
	f.StringVar(&spec.description, "description", "", "a human-friendly description of the token's use")
	f.StringSliceVar(&spec.groups, "groups", []string{DefaultTokenGroup},
		"extra groups the token authenticates as (each system:bootstrappers:...)")
	f.StringSliceVar(&spec.usages, "usages", []string{"signing", "authentication"},
		"what the token may be used for: "+strings.Join(bootstrapapi.KnownTokenUsages, ", "))

	list := &cobra.Command{
		Use:   "list",
		Short: "List bootstrap tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, caHash, err := connect()
			if err != nil {
				return err
			}
			return listTokens(cmd.Context(), client, caHash, cmd.OutOrStdout(), cmd.ErrOrStderr(), time.Now())
		},
	}
	del := &cobra.Command{
		Use:   "delete TOKEN-ID|TOKEN...",
		Short: "Delete bootstrap tokens, given by id, <id>.<secret> or join token",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, _, err := connect()
			if err != nil {
				return err
			}
			return deleteTokens(cmd.Context(), client, args, cmd.OutOrStdout())
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

// tokenClient returns a client of the kubeconfig at path and the hash of
// the CA it trusts, which join tokens carry.
func tokenClient(path string) (kubernetes.Interface, string, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	ca := rc.TLSClientConfig.CAData
	if len(ca) == 0 && rc.TLSClientConfig.CAFile != "" {
		if ca, err = os.ReadFile(rc.TLSClientConfig.CAFile); err != nil {
			return nil, "", fmt.Errorf("kubeconfig %s: %w", path, err)
		}
	}
	if len(ca) == 0 {
		return nil, "", fmt.Errorf("kubeconfig %s names no CA certificate, which join tokens need", path)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, "", err
	}
	return client, pki.CAHash(ca), nil
}

// createToken stores the bootstrap token of spec and returns its join
// token.
func createToken(ctx context.Context, client kubernetes.Interface, caHash string, spec tokenSpec, now time.Time) (string, error) {
	token := spec.token
	if token == "" {
		var err error
		if token, err = bootstraputil.GenerateBootstrapToken(); err != nil {
			return "", err
		}
	}
	if !bootstraputil.IsValidBootstrapToken(token) {
		return "", fmt.Errorf("token %q does not match %s", token, bootstrapapi.BootstrapTokenPattern)
	}
	if err := bootstraputil.ValidateUsages(spec.usages); err != nil {
		return "", err
	}
	for _, g := range spec.groups {
		if err := bootstraputil.ValidateBootstrapGroupName(g); err != nil {
			return "", err
		}
	}
	if len(spec.groups) > 0 && !slices.Contains(spec.usages, "authentication") {
		return "", errors.New(`--groups cannot be given unless --usages includes "authentication"`)
	}
	if spec.ttl < 0 {
		return "", fmt.Errorf("--ttl %v is negative", spec.ttl)
	}
	id, secret, _ := strings.Cut(token, ".")
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:     []byte(id),
		bootstrapapi.BootstrapTokenSecretKey: []byte(secret),
	}
	if spec.description != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = []byte(spec.description)
	}
	if spec.ttl > 0 {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(now.Add(spec.ttl).UTC().Format(time.RFC3339))
	}
	for _, u := range spec.usages {
		data[bootstrapapi.BootstrapTokenUsagePrefix+u] = []byte("true")
	}
	if len(spec.groups) > 0 {
		data[bootstrapapi.BootstrapTokenExtraGroupsKey] = []byte(strings.Join(spec.groups, ","))
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(id), Namespace: metav1.NamespaceSystem},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		Data:       data,
	}
	if _, err := client.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("a bootstrap token with id %q already exists", id)
		}
		return "", fmt.Errorf("creating bootstrap token %q: %w", id, err)
	}
	return pki.FormatBootstrapToken(caHash, token), nil
}

// listTokens prints the bootstrap tokens with kubeadm's columns; the
// TOKEN column holds join tokens. Secrets that are not valid tokens are
// reported on errOut.
func listTokens(ctx context.Context, client kubernetes.Interface, caHash string, out, errOut io.Writer, now time.Time) error {
	secrets, err := client.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("type", string(bootstrapapi.SecretTypeBootstrapToken)).String(),
	})
	if err != nil {
		return fmt.Errorf("listing bootstrap tokens: %w", err)
	}
	w := tabwriter.NewWriter(out, 10, 4, 3, ' ', 0)
	fmt.Fprintln(w, "TOKEN\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
	for i := range secrets.Items {
		row, err := tokenRow(&secrets.Items[i], caHash, now)
		if err != nil {
			fmt.Fprintln(errOut, err)
			continue
		}
		fmt.Fprintln(w, row)
	}
	return w.Flush()
}

// tokenRow is the tab-separated row of the token Secret s.
func tokenRow(s *corev1.Secret, caHash string, now time.Time) (string, error) {
	id := bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenIDKey)
	secret := bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenSecretKey)
	token := bootstraputil.TokenFromIDAndSecret(id, secret)
	if s.Name != bootstraputil.BootstrapTokenSecretName(id) || !bootstraputil.IsValidBootstrapToken(token) {
		return "", fmt.Errorf("secret %s/%s does not hold a valid bootstrap token", s.Namespace, s.Name)
	}
	ttl, expires := "<forever>", "<never>"
	if e := bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenExpirationKey); e != "" {
		t, err := time.Parse(time.RFC3339, e)
		if err != nil {
			return "", fmt.Errorf("secret %s/%s: expiration: %w", s.Namespace, s.Name, err)
		}
		ttl, expires = duration.ShortHumanDuration(t.Sub(now)), t.Format(time.RFC3339)
	}
	var usages []string
	for k, v := range s.Data {
		if u, ok := strings.CutPrefix(k, bootstrapapi.BootstrapTokenUsagePrefix); ok && string(v) == "true" {
			usages = append(usages, u)
		}
	}
	slices.Sort(usages)
	return strings.Join([]string{
		pki.FormatBootstrapToken(caHash, token), ttl, expires, orNone(strings.Join(usages, ",")),
		orNone(bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenDescriptionKey)),
		orNone(bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenExtraGroupsKey)),
	}, "\t"), nil
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// deleteTokens deletes the tokens named by id, <id>.<secret> or join token.
func deleteTokens(ctx context.Context, client kubernetes.Interface, args []string, out io.Writer) error {
	for _, arg := range args {
		id := arg
		if !bootstraputil.IsValidBootstrapTokenID(arg) {
			jt, err := pki.ParseJoinToken(arg)
			if err != nil || jt.BootstrapTokenID == "" {
				return fmt.Errorf("%q is neither a token id (%s) nor a bootstrap token (%s)", arg,
					bootstrapapi.BootstrapTokenIDPattern, bootstrapapi.BootstrapTokenPattern)
			}
			id = jt.BootstrapTokenID
		}
		err := client.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.DeleteOptions{})
		if err != nil {
			return fmt.Errorf("deleting bootstrap token %q: %w", id, err)
		}
		fmt.Fprintf(out, "bootstrap token %q deleted\n", id)
	}
	return nil
}
