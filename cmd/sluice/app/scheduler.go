package app

import (
	"context"
	"errors"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// runDateScheduler starts the runs of date_reached and consent_expiring
// triggers every ScheduleInterval. Several scheduler processes may run at
// once: runs are keyed by occurrence, so a contact enters once.
func (a *App) runDateScheduler(ctx context.Context) error {
	s := a.Engine.NewDateScheduler(engine.SchedulerConfig{CatchUp: a.cfg.ScheduleCatchUp})
	tick := func() {
		n, err := s.Tick(ctx)
		switch {
		case err != nil && errors.Is(err, context.Canceled):
		case err != nil:
			a.metrics.dateTicks.WithLabelValues("error").Inc()
			a.log.Warn("date scheduler", "err", err)
		default:
			a.metrics.dateTicks.WithLabelValues("ok").Inc()
			if n > 0 {
				a.log.Info("date triggers started runs", "runs", n)
			}
		}
		if done := s.Done(); !done.IsZero() {
			a.metrics.dateLag.Set(time.Since(done).Seconds())
		}
	}
	tick()
	t := time.NewTicker(a.cfg.ScheduleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			tick()
		}
	}
}
