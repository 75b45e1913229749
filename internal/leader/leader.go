package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Defaults of Config: kube-controller-manager's --leader-elect-* flags.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
	// minStopTimeout is the shortest StopTimeout defaulting gives (see
	// Config.StopTimeout).
	minStopTimeout = time.Second
	// releaseTimeout bounds giving the lease up on a clean stop.
	releaseTimeout = 2 * time.Second
)

// Config configures an Elector.
type Config struct {
	// Client reaches the Lease API.
	Client kubernetes.Interface
	// Namespace and Name of the Lease (kube-system/kube-controller-manager).
	Namespace, Name string
	// Identity is this process's holderIdentity. It must be unique among
	// the candidates and stable across restarts of one of them, so a
	// restarted leader takes its own unexpired lease back at once.
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod are client-go's leader
	// election timings; the Default* values when zero.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// StopTimeout bounds how long the work may take to return once the
	// lease is lost. Past it the work may still be writing while another
	// process leads, so Run gives up with an error (the process exits, as
	// kube-controller-manager always does on a lost lease). Zero means the
	// time a standby still has to wait once this process stopped renewing:
	// LeaseDuration - RenewDeadline - RetryPeriod (3s with the defaults),
	// at least a second.
	StopTimeout time.Duration
	// Lead is the work. It runs while the lease is held and must return
	// soon after its context is done; returning earlier is a failure that
	// ends Run.
	Lead func(ctx context.Context) error
	// Logger is slog.Default() when nil.
	Logger *slog.Logger
}

// Elector campaigns for a Lease and runs Config.Lead while it holds it.
type Elector struct {
	cfg  Config
	lock *resourcelock.LeaseLock
}

// New validates cfg and returns an Elector that campaigns when Run is
// called.
func New(cfg Config) (*Elector, error) {
	if cfg.Client == nil || cfg.Lead == nil {
		return nil, errors.New("leader: client and lead function are required")
	}
	if cfg.Namespace == "" || cfg.Name == "" || cfg.Identity == "" {
		return nil, errors.New("leader: lease namespace, name and identity are required")
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.RenewDeadline == 0 {
		cfg.RenewDeadline = DefaultRenewDeadline
	}
	if cfg.RetryPeriod == 0 {
		cfg.RetryPeriod = DefaultRetryPeriod
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = max(cfg.LeaseDuration-cfg.RenewDeadline-cfg.RetryPeriod, minStopTimeout)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)
	return &Elector{cfg: cfg, lock: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
		Client:     cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}}, nil
}

// leadResult is how one term of Lead ended.
type leadResult struct {
	err error
	// lost is true when Lead returned because its context ended (lease
	// lost or Run stopping), false when it returned on its own.
	lost bool
}

// Run campaigns until ctx is done. Each time the lease is won Lead runs;
// each time it is lost Lead's context is cancelled and, once Lead has
// returned, the campaign starts again. On a clean stop a held lease is
// released so another candidate takes over without waiting for it to
// expire. Run returns nil when ctx ends, or an error when Lead failed
// while leading or did not stop within StopTimeout.
func (e *Elector) Run(ctx context.Context) error {
	for {
		res, led, err := e.term(ctx)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			if led {
				e.release()
			}
			return nil
		}
		if led && !res.lost {
			return fmt.Errorf("leader %s: work stopped while leading: %w", e.cfg.Name, orStopped(res.err))
		}
		e.cfg.Logger.Warn("Lost leader lease; campaigning again")
	}
}

func orStopped(err error) error {
	if err == nil {
		return errors.New("returned without error")
	}
	return err
}

// term campaigns once, runs Lead while leading and waits for it to return.
func (e *Elector) term(ctx context.Context) (leadResult, bool, error) {
	termCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	lock := &acquireTracker{Interface: e.lock, identity: e.cfg.Identity}
	done := make(chan leadResult, 1)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          lock,
		Name:          e.cfg.Name,
		LeaseDuration: e.cfg.LeaseDuration,
		RenewDeadline: e.cfg.RenewDeadline,
		RetryPeriod:   e.cfg.RetryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leadCtx context.Context) {
				e.cfg.Logger.Info("Acquired leader lease")
				err := e.cfg.Lead(leadCtx)
				done <- leadResult{err: err, lost: leadCtx.Err() != nil}
				cancel() // Lead gave up on its own: stop renewing
			},
			OnStoppedLeading: func() {},
			OnNewLeader: func(identity string) {
				if identity != e.cfg.Identity {
					e.cfg.Logger.Info("Observed new leader", "leader", identity)
				}
			},
		},
	})
	if err != nil {
		return leadResult{}, false, fmt.Errorf("leader %s: %w", e.cfg.Name, err)
	}
	le.Run(termCtx)
	cancel()
	if !lock.acquired.Load() {
		return leadResult{}, false, nil // never led: ctx ended while campaigning
	}
	timer := time.NewTimer(e.cfg.StopTimeout)
	defer timer.Stop()
	select {
	case res := <-done:
		return res, true, nil
	case <-timer.C:
		return leadResult{}, true, fmt.Errorf("leader %s: work did not stop within %s of losing the lease", e.cfg.Name, e.cfg.StopTimeout)
	}
}

// release gives up the lease after Lead has returned: holder cleared and
// a one-second duration, as client-go's ReleaseOnCancel writes it. It is
// done here rather than by client-go so that the work has stopped before
// another candidate can start. Failure only delays the takeover until the
// lease expires.
func (e *Elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	rec, _, err := e.lock.Get(ctx)
	if err != nil || rec.HolderIdentity != e.cfg.Identity {
		return
	}
	now := metav1.NewTime(time.Now())
	err = e.lock.Update(ctx, resourcelock.LeaderElectionRecord{LeaseDurationSeconds: 1, RenewTime: now, AcquireTime: now,
		LeaderTransitions: rec.LeaderTransitions})
	if err != nil && !apierrors.IsConflict(err) {
		e.cfg.Logger.Debug("Kept leader lease on stop", "err", err)
		return
	}
	if err == nil {
		e.cfg.Logger.Info("Released leader lease")
	}
}

// acquireTracker records whether the elector ever wrote the lease with
// this process as holder: client-go starts the work right after such a
// write, in a goroutine of its own, so this is how term knows there is
// work to wait for.
type acquireTracker struct {
	resourcelock.Interface
	identity string
	acquired atomic.Bool
}

func (t *acquireTracker) Create(ctx context.Context, rec resourcelock.LeaderElectionRecord) error {
	err := t.Interface.Create(ctx, rec)
	if err == nil && rec.HolderIdentity == t.identity {
		t.acquired.Store(true)
	}
	return err
}

func (t *acquireTracker) Update(ctx context.Context, rec resourcelock.LeaderElectionRecord) error {
	err := t.Interface.Update(ctx, rec)
	if err == nil && rec.HolderIdentity == t.identity {
		t.acquired.Store(true)
	}
	return err
}
