package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// Worker defaults, used for the zero values of WorkerConfig.
const (
	DefaultWorkerInterval = 30 * time.Second
	DefaultWorkerLease    = 5 * time.Minute
	DefaultWorkerBatch    = 20
	// DefaultRetention is how long a message may wait in the outbox, undelivered,
	// before it is dropped (with its address and bodies).
	DefaultRetention = 24 * time.Hour
)

// dropEvery is how often a running worker applies the retention.
const dropEvery = time.Minute

// maxErrorText bounds LastError: a server can answer at length.
const maxErrorText = 1000

// WorkerConfig tunes a Worker; zero values take the defaults.
type WorkerConfig struct {
	// Interval between polls of the outbox when nothing kicks the worker
	// (default 30 s). Other instances' messages and retries are found this way.
	Interval time.Duration
	// Lease is how long a claimed message stays hidden from other workers
	// (default 5 m). A batch stops starting sends after half the lease, so a
	// message is never sent after its claim could have passed to another worker.
	Lease time.Duration
	// Batch is how many messages one claim takes (default 20).
	Batch int
	// RetryBase and RetryMax shape the back-off after a failed attempt: RetryBase,
	// doubling, capped at RetryMax (defaults 30 s and 1 h).
	RetryBase, RetryMax time.Duration
	// Retention is how long a message may stay in the outbox undelivered (default
	// 24 h): a running worker drops older ones, so that no e-mail address or body
	// outlives it (a delivered message leaves the outbox at once).
	Retention time.Duration
	// Logger receives send failures and outbox errors (default: none).
	Logger *zap.Logger
}

// Worker moves messages from an Outbox to a Sender: on every interval and whenever
// kicked, it claims the due messages, sends each, and marks it sent, or failed with
// a back-off. It gives a message up only when it has waited longer than the
// retention (DropExpired, at most once a minute).
type Worker struct {
	outbox Outbox
	sender Sender
	clock  clock.Clock
	cfg    WorkerConfig
	log    *zap.Logger
	kick   chan struct{}
	// markWait is the first wait before retrying a failed MarkSent (0: defaultMarkWait).
	markWait time.Duration

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewWorker returns a stopped worker. A nil clk means the wall clock.
func NewWorker(outbox Outbox, sender Sender, clk clock.Clock, cfg WorkerConfig) (*Worker, error) {
	var errs []error
	if outbox == nil {
		errs = append(errs, errors.New("worker: no outbox"))
	}
	if sender == nil {
		errs = append(errs, errors.New("worker: no sender"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", cfg.Interval}, {"lease", cfg.Lease}, {"retry base", cfg.RetryBase}, {"retry max", cfg.RetryMax}, {"retention", cfg.Retention}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("worker: negative %s %s", d.name, d.v))
		}
	}
	if cfg.Batch < 0 {
		errs = append(errs, fmt.Errorf("worker: negative batch %d", cfg.Batch))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real{}
	}
	cfg.Interval = cmp.Or(cfg.Interval, DefaultWorkerInterval)
	cfg.Lease = cmp.Or(cfg.Lease, DefaultWorkerLease)
	cfg.Batch = cmp.Or(cfg.Batch, DefaultWorkerBatch)
	cfg.RetryBase = cmp.Or(cfg.RetryBase, DefaultRetryBase)
	cfg.RetryMax = max(cmp.Or(cfg.RetryMax, DefaultRetryMax), cfg.RetryBase)
	cfg.Retention = cmp.Or(cfg.Retention, DefaultRetention)
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Worker{
		outbox: outbox, sender: sender, clock: clk, cfg: cfg,
		log:  log.Named("notify"),
		kick: make(chan struct{}, 1),
	}, nil
}

// Start runs the worker in a goroutine until Stop or until ctx ends. It processes
// the outbox at once, then on every interval and every Kick.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		return errors.New("mail worker already started")
	}
	ctx, w.cancel = context.WithCancel(ctx)
	w.done = make(chan struct{})
	go w.loop(ctx, w.done)
	return nil
}

// Stop ends the worker and waits for it. A send in progress is abandoned, not
// marked failed: its claim runs out after the lease and the message is sent then.
// Stop on a stopped worker does nothing; a stopped worker may be started again.
func (w *Worker) Stop() {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.cancel, w.done = nil, nil
	w.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Kick asks a running worker to look at the outbox now, typically after an
// Enqueue. It never blocks; kicks during a run coalesce into one more run.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Depth counts the messages waiting in the outbox, for a metric.
func (w *Worker) Depth(ctx context.Context) (int, error) { return w.outbox.Depth(ctx) }

func (w *Worker) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	var dropped time.Time
	for {
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("reading the mail outbox", zap.Error(err))
		}
		if now := w.clock.Now(); now.Sub(dropped) >= dropEvery {
			dropped = now
			if _, err := w.DropExpired(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("applying the mail retention", zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.kick:
		}
	}
}

// DropExpired deletes the messages composed longer than the retention ago, sent or
// not, and reports how many; a drop is logged (the count, no address).
func (w *Worker) DropExpired(ctx context.Context) (int, error) {
	now := w.clock.Now()
	n, err := w.outbox.DropExpired(ctx, now.Add(-w.cfg.Retention), now)
	if err != nil {
		return n, fmt.Errorf("dropping expired mail: %w", err)
	}
	if n > 0 {
		w.log.Warn("undelivered mail dropped: it waited longer than the mail retention",
			zap.Int("messages", n), zap.Duration("retention", w.cfg.Retention))
	}
	return n, nil
}

// RunOnce sends every message due now, batch after batch, and reports how many
// were delivered. Send failures are recorded in the outbox, not returned; the error
// is the outbox's (or ctx's). Start calls it in a loop; tools and tests may call it
// directly on a stopped worker.
func (w *Worker) RunOnce(ctx context.Context) (sent int, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		now := w.clock.Now()
		msgs, err := w.outbox.ClaimDue(ctx, now, w.cfg.Lease, w.cfg.Batch)
		if err != nil {
			return sent, fmt.Errorf("claiming due mail: %w", err)
		}
		n, err := w.sendBatch(ctx, msgs)
		sent += n
		if err != nil || len(msgs) < w.cfg.Batch {
			return sent, err
		}
	}
}

// sendBatch sends claimed messages in turn. Sends start only during the first half
// of the lease; the rest stay claimed and come back when the lease ends.
func (w *Worker) sendBatch(ctx context.Context, msgs []Message) (sent int, err error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	// The claim is ours until about now+lease: until then no other worker takes
	// these messages, so a delivery whose record failed can still be recorded.
	claimEnd := time.Now().Add(w.cfg.Lease - w.cfg.Lease/10)
	bctx, cancel := context.WithTimeout(ctx, w.cfg.Lease/2)
	defer cancel()
	for _, m := range msgs {
		if bctx.Err() != nil {
			break
		}
		sendErr := w.sender.Send(bctx, m)
		if sendErr != nil && ctx.Err() != nil {
			// Stopping cut the send short: its outcome is unknown. Leave the claim
			// to expire; a later run sends the message again.
			return sent, ctx.Err()
		}
		// Record the outcome even if the batch time is up or the worker is
		// stopping: a delivered message that is not marked goes out twice.
		now := w.clock.Now()
		if sendErr == nil {
			sent++
			if err := w.recordSent(ctx, m, now, claimEnd); err != nil {
				return sent, fmt.Errorf("marking mail %s sent: %w", m.ID, err)
			}
			continue
		}
		next := now.Add(retryDelay(m.Attempts, w.cfg.RetryBase, w.cfg.RetryMax))
		w.log.Warn("sending mail failed; will retry",
			zap.String("message_id", m.ID),
			zap.String("tenant_id", m.TenantID),
			zap.Int("attempts", m.Attempts),
			zap.Time("next_attempt", next),
			zap.Error(sendErr))
		errText := truncate(sendErr.Error(), maxErrorText)
		if err := w.record(ctx, func(rctx context.Context) error { return w.outbox.MarkFailed(rctx, m.ID, errText, next) }); err != nil {
			return sent, fmt.Errorf("marking mail %s failed: %w", m.ID, err)
		}
	}
	return sent, nil
}

// recordTimeout bounds recording an outcome, which ignores cancellation of the run.
const recordTimeout = 10 * time.Second

// record runs an outbox update detached from ctx's cancellation (Stop must not lose
// a delivery that happened) but bounded, so that a hung store cannot hold Stop.
func (w *Worker) record(ctx context.Context, update func(context.Context) error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	return update(rctx)
}

// Waits between tries to record a delivery: markWait, doubling, at most markWaitMax.
const (
	defaultMarkWait = time.Second
	markWaitMax     = 10 * time.Second
)

// recordSent records a delivery, retrying the record — never the send — while the
// outbox fails (a database outage between the SMTP handover and the record) until
// the message's claim is about to end at claimEnd, or the worker stops. Only if
// the outbox stays unreachable past that does the claim lapse and the message go out
// again, with the same Message-ID header (README: at-least-once).
func (w *Worker) recordSent(ctx context.Context, m Message, at, claimEnd time.Time) error {
	wait := cmp.Or(w.markWait, defaultMarkWait)
	for try := 1; ; try++ {
		err := w.record(ctx, func(rctx context.Context) error { return w.outbox.MarkSent(rctx, m.ID, at) })
		if err == nil || (try > 1 && errors.Is(err, ErrMessageNotFound)) {
			// Not found on a retry: an earlier try committed but its answer was lost.
			return nil
		}
		if ctx.Err() != nil || time.Now().Add(wait).After(claimEnd) {
			w.log.Error("mail delivered but not recorded as sent: it may be delivered again, with the same Message-ID, once its claim ends",
				zap.String("message_id", m.ID), zap.String("tenant_id", m.TenantID), zap.Int("tries", try), zap.Error(err))
			return err
		}
		if try == 1 {
			w.log.Warn("mail delivered but recording it failed; retrying the record, not the send",
				zap.String("message_id", m.ID), zap.Time("claim_ends", claimEnd), zap.Error(err))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(wait*2, markWaitMax)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
