package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// checkScenarioInput checks what a save needs; the graph itself may be
// unfinished (drafts are saved as drawn; Validate and Activate judge them).
func checkScenarioInput(in *ScenarioInput) error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return Invalid("name", "a scenario name is 1 to 200 characters")
	}
	if len(in.Graph.Nodes) > 500 {
		return Invalid("graph.nodes", "at most 500 nodes")
	}
	if len(in.Graph.Edges) > 2000 {
		return Invalid("graph.edges", "at most 2000 edges")
	}
	if in.Graph.Nodes == nil {
		in.Graph.Nodes = []Node{}
	}
	if in.Graph.Edges == nil {
		in.Graph.Edges = []Edge{}
	}
	return nil
}

// CreateScenario saves a new scenario as draft version 1.
func (e *Engine) CreateScenario(ctx context.Context, in ScenarioInput) (*ScenarioView, error) {
	if err := checkScenarioInput(&in); err != nil {
		return nil, err
	}
	now := e.now()
	s := &Scenario{ID: NewID("scn"), Name: in.Name, Status: StatusDraft, Version: 1,
		SigningSecret: e.cfg.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if in.AllowReentry != nil {
		s.AllowReentry = *in.AllowReentry
	}
	v := &Version{ScenarioID: s.ID, Number: 1, Graph: in.Graph, CreatedAt: now}
	if err := e.st.CreateScenario(ctx, s, v); err != nil {
		return nil, fmt.Errorf("create scenario: %w", err)
	}
	return &ScenarioView{Scenario: *s, Graph: v.Graph}, nil
}

// SaveScenario saves in as a new draft version. An active scenario keeps
// running its active version until the new one is activated.
func (e *Engine) SaveScenario(ctx context.Context, id string, in ScenarioInput) (*ScenarioView, error) {
	if err := checkScenarioInput(&in); err != nil {
		return nil, err
	}
	var view *ScenarioView
	err := e.st.InTx(ctx, func(ctx context.Context, tx Tx) error {
		s, err := tx.GetScenario(ctx, id)
		if err != nil {
			return err
		}
		if s.Status == StatusArchived {
			return &ConflictError{Message: "an archived scenario cannot be edited; activate it again first"}
		}
		now := e.now()
		s.Name = in.Name
		if in.AllowReentry != nil {
			s.AllowReentry = *in.AllowReentry
		}
		s.Version++
		s.UpdatedAt = now
		v := &Version{ScenarioID: s.ID, Number: s.Version, Graph: in.Graph, CreatedAt: now}
		if err := tx.InsertVersion(ctx, v); err != nil {
			return err
		}
		if err := tx.UpdateScenario(ctx, s); err != nil {
			return err
		}
		view = &ScenarioView{Scenario: *s, Graph: v.Graph}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("save scenario %s: %w", id, err)
	}
	e.forget(id)
	return view, nil
}

// GetScenario returns a scenario with its latest version's graph.
func (e *Engine) GetScenario(ctx context.Context, id string) (*ScenarioView, error) {
	return e.GetScenarioVersion(ctx, id, 0)
}

// GetScenarioVersion returns a scenario with the graph of one version (0:
// the latest).
func (e *Engine) GetScenarioVersion(ctx context.Context, id string, version int) (*ScenarioView, error) {
	s, err := e.st.GetScenario(ctx, id)
	if err != nil {
		return nil, err
	}
	if version == 0 {
		version = s.Version
	}
	v, err := e.st.GetVersion(ctx, id, version)
	if err != nil {
		return nil, err
	}
	return &ScenarioView{Scenario: *s, Graph: v.Graph, ActivatedAt: v.ActivatedAt}, nil
}

// ListScenarios lists scenarios with their reach (contacts that entered
// any version) and last activity (the latest hour with any).
func (e *Engine) ListScenarios(ctx context.Context) ([]ScenarioSummary, error) {
	list, err := e.st.ListScenarios(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ScenarioSummary, len(list))
	for i, s := range list {
		out[i].Scenario = s
		for version := 1; version <= s.Version; version++ {
			if err := e.summarise(ctx, &out[i], version); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// summarise adds one version's trigger reach and activity to sum.
func (e *Engine) summarise(ctx context.Context, sum *ScenarioSummary, version int) error {
	stats, err := e.st.GetStats(ctx, sum.ID, version)
	if err != nil || len(stats) == 0 {
		return err
	}
	p, err := e.planFor(ctx, e.st, sum.ID, version)
	if err != nil {
		return nil // a draft that does not compile has no runs
	}
	for _, st := range stats {
		if n := p.nodes[st.NodeID]; n != nil && n.spec.Kind == KindTrigger {
			sum.Reached += st.Reached
		}
	}
	hourly, err := e.st.GetHourlyStats(ctx, sum.ID, version, e.now().AddDate(0, 0, -90))
	if err != nil {
		return err
	}
	for _, hs := range hourly {
		for _, h := range hs {
			if sum.LastActivity == nil || h.Hour.After(*sum.LastActivity) {
				t := h.Hour
				sum.LastActivity = &t
			}
		}
	}
	return nil
}

// Validate returns the problems of a scenario's latest version.
func (e *Engine) Validate(ctx context.Context, id string) ([]Problem, error) {
	v, err := e.GetScenario(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.ValidateGraph(v.Graph), nil
}

// Activate validates the latest version and makes it the one new runs
// enter on (*ProblemsError when invalid). Runs in flight keep their version.
func (e *Engine) Activate(ctx context.Context, id string) (*ScenarioView, error) {
	var view *ScenarioView
	err := e.st.InTx(ctx, func(ctx context.Context, tx Tx) error {
		s, err := tx.GetScenario(ctx, id)
		if err != nil {
			return err
		}
		v, err := tx.GetVersion(ctx, id, s.Version)
		if err != nil {
			return err
		}
		if _, problems := compileGraph(e.cfg.Registry, v.Graph); len(problems) > 0 {
			return &ProblemsError{Problems: problems}
		}
		now := e.now()
		if v.ActivatedAt == nil {
			if err := tx.MarkVersionActivated(ctx, id, v.Number, now); err != nil {
				return err
			}
			v.ActivatedAt = &now
		}
		s.Status, s.ActiveVersion, s.UpdatedAt = StatusActive, v.Number, now
		if err := tx.UpdateScenario(ctx, s); err != nil {
			return err
		}
		view = &ScenarioView{Scenario: *s, Graph: v.Graph, ActivatedAt: v.ActivatedAt}
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.forget(id)
	return view, nil
}

// Pause stops new runs from entering; runs in flight go on.
func (e *Engine) Pause(ctx context.Context, id string) (*ScenarioView, error) {
	return e.setStatus(ctx, id, StatusPaused, func(s *Scenario) error {
		if s.Status != StatusActive {
			return &ConflictError{Message: fmt.Sprintf("only an active scenario can be paused; this one is %s", s.Status)}
		}
		return nil
	})
}

// Archive retires a scenario: no new runs enter; runs in flight go on.
func (e *Engine) Archive(ctx context.Context, id string) (*ScenarioView, error) {
	return e.setStatus(ctx, id, StatusArchived, func(*Scenario) error { return nil })
}

// RotateSecret gives a scenario a new signing secret.
func (e *Engine) RotateSecret(ctx context.Context, id string) (*ScenarioView, error) {
	return e.update(ctx, id, func(s *Scenario) error {
		s.SigningSecret = e.cfg.NewSecret()
		return nil
	})
}

func (e *Engine) setStatus(ctx context.Context, id string, status ScenarioStatus, check func(*Scenario) error) (*ScenarioView, error) {
	return e.update(ctx, id, func(s *Scenario) error {
		if err := check(s); err != nil {
			return err
		}
		s.Status = status
		return nil
	})
}

// update changes a scenario row with f in a transaction.
func (e *Engine) update(ctx context.Context, id string, f func(*Scenario) error) (*ScenarioView, error) {
	err := e.st.InTx(ctx, func(ctx context.Context, tx Tx) error {
		s, err := tx.GetScenario(ctx, id)
		if err != nil {
			return err
		}
		if err := f(s); err != nil {
			return err
		}
		s.UpdatedAt = e.now()
		return tx.UpdateScenario(ctx, s)
	})
	if err != nil {
		return nil, err
	}
	e.forget(id)
	return e.GetScenario(ctx, id)
}

// DeleteScenario deletes a draft or archived scenario (ErrConflict
// otherwise). The steps of an archived scenario may still be finishing:
// their commits and the delete lock the same rows in another order, and
// when the database breaks the deadlock by refusing the delete, it is
// run again.
func (e *Engine) DeleteScenario(ctx context.Context, id string) error {
	var err error
	for try := 0; try < 3; try++ {
		err = e.st.InTx(ctx, func(ctx context.Context, tx Tx) error {
			s, err := tx.GetScenario(ctx, id)
			if err != nil {
				return err
			}
			if s.Status != StatusDraft && s.Status != StatusArchived {
				return &ConflictError{Message: fmt.Sprintf("only a draft or archived scenario can be deleted; this one is %s", s.Status)}
			}
			return tx.DeleteScenario(ctx, id)
		})
		if !errors.Is(err, ErrRetry) {
			break
		}
	}
	if err == nil {
		e.forget(id)
	}
	return err
}

// versionOrDefault resolves version 0 to the active version, else the latest.
func versionOrDefault(s *Scenario, version int) int {
	if version > 0 {
		return version
	}
	if s.ActiveVersion > 0 {
		return s.ActiveVersion
	}
	return s.Version
}

// Stats returns a version's counters (0: the active, else latest, version);
// hourly adds the per-hour buckets of the last 7 days.
func (e *Engine) Stats(ctx context.Context, id string, version int, hourly bool) (*ScenarioStats, error) {
	s, err := e.st.GetScenario(ctx, id)
	if err != nil {
		return nil, err
	}
	version = versionOrDefault(s, version)
	v, err := e.st.GetVersion(ctx, id, version)
	if err != nil {
		return nil, err
	}
	rows, err := e.st.GetStats(ctx, id, version)
	if err != nil {
		return nil, err
	}
	byNode := map[string]StepStats{}
	for _, r := range rows {
		byNode[r.NodeID] = r
	}
	var buckets map[string][]HourlyStats
	if hourly {
		if buckets, err = e.st.GetHourlyStats(ctx, id, version, e.now().Add(-7*24*time.Hour)); err != nil {
			return nil, err
		}
	}
	out := &ScenarioStats{ScenarioID: id, Version: version, Steps: []StepStatsView{}}
	for n := s.Version; n >= 1; n-- {
		out.Versions = append(out.Versions, n)
	}
	for _, n := range v.Graph.Nodes {
		st := byNode[n.ID]
		st.NodeID, st.Type = n.ID, n.Type
		view := StepStatsView{StepStats: st}
		if n.Type == "send_webhook" && st.Attempts > 0 {
			durs, err := e.st.AttemptDurations(ctx, id, version, n.ID, 10000)
			if err != nil {
				return nil, err
			}
			view.LatencyMS = percentiles(durs)
		}
		if hourly {
			view.Hourly = buckets[n.ID]
			if view.Hourly == nil {
				view.Hourly = []HourlyStats{}
			}
		}
		out.Steps = append(out.Steps, view)
	}
	return out, nil
}

// percentiles of sorted or unsorted durations (nearest rank).
func percentiles(d []int64) *Percentiles {
	if len(d) == 0 {
		return nil
	}
	s := append([]int64(nil), d...)
	slices.Sort(s)
	at := func(p float64) int64 {
		i := int(p*float64(len(s))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return s[min(i, len(s)-1)]
	}
	return &Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99)}
}

// checkNode returns ErrNotFound unless nodeID is a node of the version (0:
// the latest or the active one).
func (e *Engine) checkNode(ctx context.Context, s *Scenario, version int, nodeID string) error {
	versions := []int{version}
	if version == 0 {
		versions = []int{s.Version, s.ActiveVersion}
	}
	for _, n := range versions {
		if n == 0 {
			continue
		}
		v, err := e.st.GetVersion(ctx, s.ID, n)
		if err != nil {
			return err
		}
		for _, node := range v.Graph.Nodes {
			if node.ID == nodeID {
				return nil
			}
		}
	}
	return fmt.Errorf("node %q of scenario %s: %w", nodeID, s.ID, ErrNotFound)
}

// Deliveries lists a step's deliveries with their attempts; next is the
// cursor of the following page ("" at the end).
func (e *Engine) Deliveries(ctx context.Context, f DeliveryFilter) ([]DeliveryView, string, error) {
	s, err := e.st.GetScenario(ctx, f.ScenarioID)
	if err != nil {
		return nil, "", err
	}
	if err := e.checkNode(ctx, s, f.Version, f.NodeID); err != nil {
		return nil, "", err
	}
	if f.Status != "" && !slices.Contains(DeliveryStatuses, f.Status) {
		return nil, "", Invalid("status", "status is pending, accepted or failed")
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 500 {
		return nil, "", Invalid("limit", "limit is 1 to 500")
	}
	limit := f.Limit
	f.Limit++
	ds, err := e.st.ListDeliveries(ctx, f)
	if err != nil {
		return nil, "", err
	}
	return e.deliveryPage(ctx, ds, limit)
}

// deliveryPage cuts ds (fetched with limit+1 rows) to one page, joins each
// delivery's attempts, and returns the cursor of the next page ("" at the
// end).
func (e *Engine) deliveryPage(ctx context.Context, ds []Delivery, limit int) ([]DeliveryView, string, error) {
	next := ""
	if len(ds) > limit {
		ds = ds[:limit]
		next = ds[limit-1].ID
	}
	ids := make([]string, len(ds))
	for i := range ds {
		ids[i] = ds[i].ID
	}
	attempts, err := e.st.ListAttempts(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	out := make([]DeliveryView, len(ds))
	for i, d := range ds {
		out[i] = DeliveryView{Delivery: d, Body: d.Body, AttemptLog: attempts[d.ID]}
		if out[i].AttemptLog == nil {
			out[i].AttemptLog = []Attempt{}
		}
	}
	return out, next, nil
}
