package clusterroleaggregation

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// fieldManager names the controller's writes, as upstream's.
const fieldManager = "clusterrole-aggregation-controller"

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger
}

// Controller keeps the rules of aggregated ClusterRoles.
type Controller struct {
	cfg    Config
	roles  rbaclisters.ClusterRoleLister
	synced cache.InformerSynced
	queue  *keyqueue.Queue
}

// New returns the controller, registering its ClusterRole informer.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, fmt.Errorf("clusterroleaggregation: client and informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{cfg: cfg}
	c.queue = keyqueue.New(keyqueue.Config{Name: "clusterroleaggregation", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started ClusterRole aggregation controller", Failed: "Aggregated ClusterRole with errors",
		KeyName: "clusterRole"})
	informer := cfg.Informers.Rbac().V1().ClusterRoles()
	c.roles, c.synced = informer.Lister(), informer.Informer().HasSynced
	// Any ClusterRole may feed any aggregated one, and there are few of
	// them: every change requeues every aggregated ClusterRole.
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.enqueueAggregated() },
		UpdateFunc: func(any, any) { c.enqueueAggregated() },
		DeleteFunc: func(any) { c.enqueueAggregated() },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run aggregates ClusterRoles until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, 1, c.synced)
	return nil
}

// enqueueAggregated queues every ClusterRole with an aggregationRule.
func (c *Controller) enqueueAggregated() {
	all, err := c.roles.List(labels.Everything())
	if err != nil {
		return
	}
	for _, r := range all {
		if r.AggregationRule != nil {
			c.queue.Enqueue(r)
		}
	}
}

// sync writes the aggregated rules of the ClusterRole named key, if they
// changed.
func (c *Controller) sync(ctx context.Context, key string) error {
	cur, err := c.roles.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.AggregationRule == nil {
		return nil
	}
	rules, err := c.aggregate(cur)
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(rules, cur.Rules) {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Rules = rules
	_, err = c.cfg.Client.RbacV1().ClusterRoles().Update(ctx, upd, metav1.UpdateOptions{FieldManager: fieldManager})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return fmt.Errorf("updating the rules of %s: %w", cur.Name, keyqueue.ErrRetry)
	}
	if err != nil {
		return fmt.Errorf("updating the rules of %s: %w", cur.Name, err)
	}
	c.cfg.Logger.Info("Aggregated ClusterRole", "clusterRole", cur.Name, "rules", len(rules))
	return nil
}

// Aggregate returns the rules of role's aggregationRule: for each
// selector in order, the rules of the ClusterRoles it matches (role
// itself left out), by name, each rule once.
func Aggregate(role *rbacv1.ClusterRole, all []*rbacv1.ClusterRole) ([]rbacv1.PolicyRule, error) {
	rules := []rbacv1.PolicyRule{}
	if role.AggregationRule == nil {
		return rules, nil
	}
	all = slices.Clone(all)
	slices.SortFunc(all, func(a, b *rbacv1.ClusterRole) int { return cmp.Compare(a.Name, b.Name) })
	for i := range role.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&role.AggregationRule.ClusterRoleSelectors[i])
		if err != nil {
			return nil, fmt.Errorf("aggregationRule of %s: %w", role.Name, err)
		}
		for _, r := range all {
			if r.Name == role.Name || !sel.Matches(labels.Set(r.Labels)) {
				continue
			}
			for _, rule := range r.Rules {
				if !slices.ContainsFunc(rules, func(have rbacv1.PolicyRule) bool {
					return apiequality.Semantic.DeepEqual(have, rule)
				}) {
					rules = append(rules, *rule.DeepCopy())
				}
			}
		}
	}
	return rules, nil
}

func (c *Controller) aggregate(role *rbacv1.ClusterRole) ([]rbacv1.PolicyRule, error) {
	all, err := c.roles.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return Aggregate(role, all)
}
