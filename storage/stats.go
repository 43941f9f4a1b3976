package storage

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// statKey names the counters of one node (and hour).
type statKey struct {
	scenarioID string
	version    int
	nodeID     string
	hour       time.Time
}

func compareKeys(a, b statKey) int {
	return cmp.Or(strings.Compare(a.scenarioID, b.scenarioID), cmp.Compare(a.version, b.version),
		strings.Compare(a.nodeID, b.nodeID), a.hour.Compare(b.hour))
}

// statSum is the sum of the deltas of one key.
type statSum struct {
	key                                          statKey
	reached, accepted, pending, failed, attempts int64
}

// sumDeltas adds up the deltas per key and returns the sums sorted by key,
// dropping those that are all zero. A multi-row upsert may not touch a row
// twice, and a fixed order keeps concurrent upserts from deadlocking.
func sumDeltas(deltas []engine.StatDelta, hourly bool) []statSum {
	byKey := map[statKey]*statSum{}
	for _, d := range deltas {
		k := statKey{scenarioID: d.ScenarioID, version: d.Version, nodeID: d.NodeID}
		if hourly {
			k.hour = hourOf(d.Hour)
		}
		s := byKey[k]
		if s == nil {
			s = &statSum{key: k}
			byKey[k] = s
		}
		s.reached += d.Reached
		s.accepted += d.Accepted
		s.failed += d.Failed
		s.attempts += d.Attempts
		if !hourly {
			s.pending += d.Pending
		}
	}
	out := make([]statSum, 0, len(byKey))
	for _, s := range byKey {
		if s.reached != 0 || s.accepted != 0 || s.pending != 0 || s.failed != 0 || s.attempts != 0 {
			out = append(out, *s)
		}
	}
	slices.SortFunc(out, func(a, b statSum) int { return compareKeys(a.key, b.key) })
	return out
}

// statShards is how many rows each counter is spread over (see migration
// 006_stat_shards).
const statShards = 16

// BumpStats adds the deltas (negative ones too) to the per-node totals and
// to the hourly buckets (Hour truncated to the hour, UTC; pending has no
// hourly bucket): one statement on PostgreSQL (the totals' upsert in a
// WITH), two on SQLite.
func (r *repo) BumpStats(ctx context.Context, deltas []engine.StatDelta) error {
	for _, d := range deltas {
		if d.Hour.IsZero() && (d.Reached != 0 || d.Accepted != 0 || d.Failed != 0 || d.Attempts != 0) {
			return errors.New("bump stats: a delta with reached, accepted, failed or attempts needs an Hour")
		}
	}
	totals, hours := sumDeltas(deltas, false), sumDeltas(deltas, true)
	if len(totals) == 0 {
		return nil
	}
	// One shard for the whole call: its rows are still locked in key order.
	shard := rand.IntN(statShards)
	var tq, hq strings.Builder
	args := make([]any, 0, 9*(len(totals)+len(hours)))
	tq.WriteString("INSERT INTO step_stats (scenario_id, version, node_id, shard, reached, accepted, pending, failed, attempts) VALUES ")
	for i, s := range totals {
		if i > 0 {
			tq.WriteString(", ")
		}
		tq.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, s.key.scenarioID, s.key.version, s.key.nodeID, shard, s.reached, s.accepted, s.pending, s.failed, s.attempts)
	}
	tq.WriteString(` ON CONFLICT (scenario_id, version, node_id, shard) DO UPDATE SET
reached = step_stats.reached + excluded.reached, accepted = step_stats.accepted + excluded.accepted,
pending = step_stats.pending + excluded.pending, failed = step_stats.failed + excluded.failed,
attempts = step_stats.attempts + excluded.attempts`)
	nTotals := len(args)
	if len(hours) == 0 {
		_, err := r.conn(ctx).ExecContext(later(ctx), tq.String(), args...)
		return wrap(err, "bump stats")
	}
	hq.WriteString("INSERT INTO step_stats_hourly (scenario_id, version, node_id, hour, shard, reached, accepted, failed, attempts) VALUES ")
	for i, s := range hours {
		if i > 0 {
			hq.WriteString(", ")
		}
		hq.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, s.key.scenarioID, s.key.version, s.key.nodeID, ut(s.key.hour), shard, s.reached, s.accepted, s.failed, s.attempts)
	}
	hq.WriteString(` ON CONFLICT (scenario_id, version, node_id, hour, shard) DO UPDATE SET
reached = step_stats_hourly.reached + excluded.reached, accepted = step_stats_hourly.accepted + excluded.accepted,
failed = step_stats_hourly.failed + excluded.failed, attempts = step_stats_hourly.attempts + excluded.attempts`)
	if r.st.postgres {
		_, err := r.conn(ctx).ExecContext(later(ctx), "WITH totals AS ("+tq.String()+") "+hq.String(), args...)
		return wrap(err, "bump stats")
	}
	return r.atomic(ctx, func(ctx context.Context, r *repo) error {
		if _, err := r.conn(ctx).ExecContext(ctx, tq.String(), args[:nTotals]...); err != nil {
			return wrap(err, "bump stats")
		}
		_, err := r.conn(ctx).ExecContext(ctx, hq.String(), args[nTotals:]...)
		return wrap(err, "bump hourly stats")
	})
}

// GetStats returns the counters of every node of a version that has any,
// sorted by node id. Type is left empty: the engine knows it.
func (r *repo) GetStats(ctx context.Context, scenarioID string, version int) ([]engine.StepStats, error) {
	var rows []statsRow
	err := r.reader(ctx).NewSelect().Model(&rows).ColumnExpr("node_id").
		ColumnExpr("SUM(reached) AS reached, SUM(accepted) AS accepted, SUM(pending) AS pending").
		ColumnExpr("SUM(failed) AS failed, SUM(attempts) AS attempts").
		Where("scenario_id = ? AND version = ?", scenarioID, version).
		GroupExpr("node_id").OrderExpr("node_id").Scan(ctx)
	if err != nil {
		return nil, wrap(err, "get stats of scenario %s version %d", scenarioID, version)
	}
	out := make([]engine.StepStats, len(rows))
	for i, s := range rows {
		out[i] = engine.StepStats{NodeID: s.NodeID, Reached: s.Reached, Accepted: s.Accepted, Pending: s.Pending,
			Failed: s.Failed, Attempts: s.Attempts}
	}
	return out, nil
}

// GetHourlyStats returns a version's hourly buckets from the one holding
// since onwards, by node id, oldest first.
func (r *repo) GetHourlyStats(ctx context.Context, scenarioID string, version int, since time.Time) (map[string][]engine.HourlyStats, error) {
	var rows []hourlyRow
	err := r.reader(ctx).NewSelect().Model(&rows).ColumnExpr("node_id, hour").
		ColumnExpr("SUM(reached) AS reached, SUM(accepted) AS accepted, SUM(failed) AS failed, SUM(attempts) AS attempts").
		Where("scenario_id = ? AND version = ? AND hour >= ?", scenarioID, version, ut(hourOf(since))).
		GroupExpr("node_id, hour").OrderExpr("node_id, hour").Scan(ctx)
	if err != nil {
		return nil, wrap(err, "get hourly stats of scenario %s version %d", scenarioID, version)
	}
	out := map[string][]engine.HourlyStats{}
	for _, h := range rows {
		out[h.NodeID] = append(out[h.NodeID], engine.HourlyStats{Hour: h.Hour.T(), Reached: h.Reached,
			Accepted: h.Accepted, Failed: h.Failed, Attempts: h.Attempts})
	}
	return out, nil
}

// AttemptDurations returns the durations (ms) of the attempts of a node's
// latest deliveries, newest first, at most limit (<= 0 means 1000); version
// 0 means every version.
func (r *repo) AttemptDurations(ctx context.Context, scenarioID string, version int, nodeID string, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = defaultDurationsLimit
	}
	q := r.reader(ctx).NewSelect().TableExpr("deliveries AS d").Join("JOIN attempts AS a ON a.delivery_id = d.id").
		ColumnExpr("a.duration_ms").
		Where("d.scenario_id = ? AND d.node_id = ?", scenarioID, nodeID).
		OrderExpr("d.id DESC, a.number DESC").Limit(int64(limit))
	if version > 0 {
		q = q.Where("d.version = ?", version)
	}
	out := []int64{}
	if err := q.Scan(ctx, &out); err != nil {
		return nil, wrap(err, "attempt durations of scenario %s node %s", scenarioID, nodeID)
	}
	return out, nil
}

// rebuildStatsSQL recomputes step_stats of one version, in shard 0: reached is the
// number of runs with a step (any status) at the node, or that the node
// started as their trigger (runs.trigger_node), accepted, pending
// and failed count the node's step deliveries per status, attempts their
// attempts. A version's steps are found through the scenario's runs
// (the indexes runs_entry and steps_run_node): no index leads with a
// step's scenario.
const rebuildStatsSQL = `INSERT INTO step_stats (scenario_id, version, node_id, reached, accepted, pending, failed, attempts)
SELECT ?0, ?1, node_id, SUM(reached), SUM(accepted), SUM(pending), SUM(failed), SUM(attempts) FROM (
  SELECT node_id, COUNT(DISTINCT run_id) AS reached, 0 AS accepted, 0 AS pending, 0 AS failed, 0 AS attempts
  FROM steps WHERE run_id IN (SELECT id FROM runs WHERE scenario_id = ?0) AND scenario_id = ?0 AND version = ?1
  GROUP BY node_id
  UNION ALL
  SELECT trigger_node, COUNT(*), 0, 0, 0, 0
  FROM runs WHERE scenario_id = ?0 AND version = ?1 AND trigger_node <> '' GROUP BY trigger_node
  UNION ALL
  SELECT node_id, 0, SUM(CASE WHEN status = 'accepted' THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0
  FROM deliveries WHERE kind = 'step' AND scenario_id = ?0 AND version = ?1 GROUP BY node_id
  UNION ALL
  SELECT d.node_id, 0, 0, 0, 0, COUNT(*)
  FROM deliveries AS d JOIN attempts AS a ON a.delivery_id = d.id
  WHERE d.kind = 'step' AND d.scenario_id = ?0 AND d.version = ?1 GROUP BY d.node_id
) AS counts GROUP BY node_id`

// RebuildStats replaces a version's per-node totals by counts of its
// runs, steps, deliveries and attempts, in one transaction. Only rows
// count as reach: a trigger node through the runs it started, or its done
// step for runs stored before runs named their trigger, every other node
// through its steps (see rebuildStatsSQL). Hourly buckets are left as
// they are.
func (r *repo) RebuildStats(ctx context.Context, scenarioID string, version int) error {
	return r.atomic(ctx, func(ctx context.Context, r *repo) error {
		db := r.conn(ctx)
		if _, err := db.ExecContext(ctx, "DELETE FROM step_stats WHERE scenario_id = ? AND version = ?", scenarioID, version); err != nil {
			return wrap(err, "rebuild stats of scenario %s version %d", scenarioID, version)
		}
		_, err := db.ExecContext(ctx, rebuildStatsSQL, scenarioID, version)
		return wrap(err, "rebuild stats of scenario %s version %d", scenarioID, version)
	})
}
