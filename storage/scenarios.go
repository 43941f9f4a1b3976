package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// sealScenario turns s into a row with its signing secret sealed.
func (r *repo) sealScenario(s *engine.Scenario) (*scenarioRow, error) {
	sealed, err := r.box().Seal(s.SigningSecret)
	if err != nil {
		return nil, fmt.Errorf("seal signing secret of scenario %s: %w", s.ID, err)
	}
	return &scenarioRow{ID: s.ID, Name: s.Name, Status: string(s.Status), AllowReentry: s.AllowReentry,
		Version: s.Version, ActiveVersion: s.ActiveVersion, SigningSecret: sealed,
		CreatedAt: ut(s.CreatedAt), UpdatedAt: ut(s.UpdatedAt)}, nil
}

// openScenario turns a row into a scenario with its signing secret opened.
func (r *repo) openScenario(row *scenarioRow) (engine.Scenario, error) {
	secret, err := r.box().Open(row.SigningSecret)
	if err != nil {
		return engine.Scenario{}, fmt.Errorf("open signing secret of scenario %s: %w", row.ID, err)
	}
	return engine.Scenario{ID: row.ID, Name: row.Name, Status: engine.ScenarioStatus(row.Status),
		AllowReentry: row.AllowReentry, Version: row.Version, ActiveVersion: row.ActiveVersion,
		SigningSecret: secret, CreatedAt: row.CreatedAt.T(), UpdatedAt: row.UpdatedAt.T()}, nil
}

// CreateScenario inserts a scenario and, when v is not nil, its first
// version (stored under s.ID), atomically (engine.ErrConflict if the id
// exists).
func (r *repo) CreateScenario(ctx context.Context, s *engine.Scenario, v *engine.Version) error {
	row, err := r.sealScenario(s)
	if err != nil {
		return err
	}
	insert := func(ctx context.Context, r *repo) error {
		if _, err := r.conn(ctx).NewInsert().Model(row).Exec(ctx); err != nil {
			return wrap(err, "create scenario %s", s.ID)
		}
		if v == nil {
			return nil
		}
		_, err := r.conn(ctx).NewInsert().Model(newVersionRow(s.ID, v)).Exec(ctx)
		return wrap(err, "create scenario %s: version %d", s.ID, v.Number)
	}
	if v == nil {
		return insert(ctx, r)
	}
	return r.atomic(ctx, insert)
}

// UpdateScenario writes name, status, allow_reentry, version,
// active_version, signing_secret (sealed) and updated_at.
func (r *repo) UpdateScenario(ctx context.Context, s *engine.Scenario) error {
	row, err := r.sealScenario(s)
	if err != nil {
		return err
	}
	res, err := r.conn(ctx).NewUpdate().Model(row).
		Column("name", "status", "allow_reentry", "version", "active_version", "signing_secret", "updated_at").
		WherePK().Exec(ctx)
	if err != nil {
		return wrap(err, "update scenario %s", s.ID)
	}
	n, err := affected(res)
	if err != nil {
		return wrap(err, "update scenario %s", s.ID)
	}
	if n == 0 {
		return notFound("update scenario %s", s.ID)
	}
	return nil
}

// GetScenario returns a scenario by id.
func (r *repo) GetScenario(ctx context.Context, id string) (*engine.Scenario, error) {
	var row scenarioRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(err, "get scenario %s", id)
	}
	s, err := r.openScenario(&row)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// ListScenarios returns every scenario, newest first.
func (r *repo) ListScenarios(ctx context.Context) ([]engine.Scenario, error) {
	return r.scenarios(ctx, "")
}

// ActiveScenarios returns the scenarios whose status is active, newest
// first.
func (r *repo) ActiveScenarios(ctx context.Context) ([]engine.Scenario, error) {
	return r.scenarios(ctx, engine.StatusActive)
}

func (r *repo) scenarios(ctx context.Context, status engine.ScenarioStatus) ([]engine.Scenario, error) {
	var rows []scenarioRow
	q := r.conn(ctx).NewSelect().Model(&rows).OrderExpr("created_at DESC, id DESC")
	if status != "" {
		q = q.Where("status = ?", string(status))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap(err, "list scenarios")
	}
	out := make([]engine.Scenario, len(rows))
	for i := range rows {
		s, err := r.openScenario(&rows[i])
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// DeleteScenario deletes a scenario with everything that belongs to it:
// the scenario first (its versions and stats by foreign key), then the
// steps of its runs, its runs and its deliveries (their attempts by
// foreign key). Deliveries of event subscriptions are not touched.
// Whether the scenario may be deleted (draft or archived) is the engine's
// decision.
//
// On PostgreSQL runs, steps and deliveries have no foreign key up to the
// scenario (migrations 009 and 010), so they are deleted here, each by a
// statement of its own that sees what committed before it began. The
// scenario goes first because every transaction that stores a run, step
// or delivery also bumps the scenario's counters: by the time its
// counter rows are deleted, such a transaction has committed (and the
// later statements see its rows) or it will be refused by the counters'
// foreign key. On SQLite the foreign keys cascade; the statements are the
// same on both.
func (r *repo) DeleteScenario(ctx context.Context, id string) error {
	return r.atomic(ctx, func(ctx context.Context, r *repo) error {
		res, err := r.conn(ctx).ExecContext(ctx, "DELETE FROM scenarios WHERE id = ?", id)
		if err != nil {
			return wrap(err, "delete scenario %s", id)
		}
		n, err := affected(res)
		if err != nil {
			return wrap(err, "delete scenario %s", id)
		}
		if n == 0 {
			return notFound("delete scenario %s", id)
		}
		for _, q := range []string{
			"DELETE FROM steps WHERE run_id IN (SELECT id FROM runs WHERE scenario_id = ?)",
			"DELETE FROM runs WHERE scenario_id = ?",
			"DELETE FROM deliveries WHERE scenario_id = ?",
		} {
			if _, err := r.conn(ctx).ExecContext(ctx, q, id); err != nil {
				return wrap(err, "delete scenario %s", id)
			}
		}
		return nil
	})
}

// InsertVersion inserts a version (engine.ErrConflict if its number
// exists, engine.ErrNotFound if its scenario does not).
func (r *repo) InsertVersion(ctx context.Context, v *engine.Version) error {
	_, err := r.conn(ctx).NewInsert().Model(newVersionRow(v.ScenarioID, v)).Exec(ctx)
	return wrap(err, "insert version %d of scenario %s", v.Number, v.ScenarioID)
}

// GetVersion returns one version of a scenario.
func (r *repo) GetVersion(ctx context.Context, scenarioID string, number int) (*engine.Version, error) {
	var row versionRow
	err := r.conn(ctx).NewSelect().Model(&row).Where("scenario_id = ? AND number = ?", scenarioID, number).Scan(ctx)
	if err != nil {
		return nil, wrap(err, "get version %d of scenario %s", number, scenarioID)
	}
	v := row.version()
	return &v, nil
}

// ListVersions returns every version of a scenario, newest first (empty
// when the scenario has none or does not exist).
func (r *repo) ListVersions(ctx context.Context, scenarioID string) ([]engine.Version, error) {
	var rows []versionRow
	err := r.conn(ctx).NewSelect().Model(&rows).Where("scenario_id = ?", scenarioID).OrderExpr("number DESC").Scan(ctx)
	if err != nil {
		return nil, wrap(err, "list versions of scenario %s", scenarioID)
	}
	out := make([]engine.Version, len(rows))
	for i := range rows {
		out[i] = rows[i].version()
	}
	return out, nil
}

// MarkVersionActivated sets the activation time of a version.
func (r *repo) MarkVersionActivated(ctx context.Context, scenarioID string, number int, at time.Time) error {
	res, err := r.conn(ctx).ExecContext(ctx,
		"UPDATE scenario_versions SET activated_at = ? WHERE scenario_id = ? AND number = ?", ut(at), scenarioID, number)
	if err != nil {
		return wrap(err, "mark version %d of scenario %s activated", number, scenarioID)
	}
	n, err := affected(res)
	if err != nil {
		return wrap(err, "mark version %d of scenario %s activated", number, scenarioID)
	}
	if n == 0 {
		return notFound("mark version %d of scenario %s activated", number, scenarioID)
	}
	return nil
}
