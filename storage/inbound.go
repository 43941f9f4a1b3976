package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/sluicehq/sluice/engine"
)

// inboundRow is an inbound webhook; its keys are sealed.
type inboundRow struct {
	bun.BaseModel  `bun:"table:inbound_webhooks,alias:iw"`
	ID             string               `bun:"id,pk"`
	Name           string               `bun:"name"`
	ListID         string               `bun:"list_id"`
	Action         string               `bun:"action"`
	AllowedMethods []string             `bun:"allowed_methods,nullzero"`
	AllowedHeaders map[string]string    `bun:"allowed_headers,nullzero"`
	AllowedIPs     []string             `bun:"allowed_ips,nullzero"`
	CustomFields   []engine.CustomField `bun:"custom_fields,nullzero"`
	APIKey         string               `bun:"api_key"`    // sealed
	SecretKey      string               `bun:"secret_key"` // sealed
	CreatedAt      utime                `bun:"created_at"`
	UpdatedAt      utime                `bun:"updated_at"`
}

// inboundHourRow is one hourly bucket of an inbound webhook's activity.
type inboundHourRow struct {
	bun.BaseModel `bun:"table:inbound_activity,alias:ia"`
	Hour          utime `bun:"hour"`
	Accepted      int64 `bun:"accepted"`
	Refused       int64 `bun:"refused"`
}

// inboundRefusalRow is one refused call.
type inboundRefusalRow struct {
	bun.BaseModel `bun:"table:inbound_refusals,alias:ir"`
	ID            string `bun:"id,pk"`
	WebhookID     string `bun:"webhook_id"`
	At            utime  `bun:"at"`
	Code          string `bun:"code"`
	Reason        string `bun:"reason"`
	Method        string `bun:"method"`
	RemoteIP      string `bun:"remote_ip"`
}

// sealInbound turns w into a row with its keys sealed.
func (r *repo) sealInbound(w *engine.InboundWebhook) (*inboundRow, error) {
	apiKey, err := r.box().Seal(w.APIKey)
	if err != nil {
		return nil, fmt.Errorf("seal api key of inbound webhook %s: %w", w.ID, err)
	}
	secretKey, err := r.box().Seal(w.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("seal secret key of inbound webhook %s: %w", w.ID, err)
	}
	return &inboundRow{ID: w.ID, Name: w.Name, ListID: w.ListID, Action: string(w.Action),
		AllowedMethods: w.AllowedMethods, AllowedHeaders: w.AllowedHeaders, AllowedIPs: w.AllowedIPs,
		CustomFields: w.CustomFields, APIKey: apiKey, SecretKey: secretKey,
		CreatedAt: ut(w.CreatedAt), UpdatedAt: ut(w.UpdatedAt)}, nil
}

// openInbound turns a row into an inbound webhook with its keys opened.
// Empty lists and maps read back empty, not nil.
func (r *repo) openInbound(row *inboundRow) (engine.InboundWebhook, error) {
	apiKey, err := r.box().Open(row.APIKey)
	if err != nil {
		return engine.InboundWebhook{}, fmt.Errorf("open api key of inbound webhook %s: %w", row.ID, err)
	}
	secretKey, err := r.box().Open(row.SecretKey)
	if err != nil {
		return engine.InboundWebhook{}, fmt.Errorf("open secret key of inbound webhook %s: %w", row.ID, err)
	}
	w := engine.InboundWebhook{ID: row.ID, Name: row.Name, ListID: row.ListID, Action: engine.InboundAction(row.Action),
		AllowedMethods: row.AllowedMethods, AllowedHeaders: row.AllowedHeaders, AllowedIPs: row.AllowedIPs,
		CustomFields: row.CustomFields, APIKey: apiKey, SecretKey: secretKey,
		CreatedAt: row.CreatedAt.T(), UpdatedAt: row.UpdatedAt.T()}
	if w.AllowedMethods == nil {
		w.AllowedMethods = []string{}
	}
	if w.AllowedHeaders == nil {
		w.AllowedHeaders = map[string]string{}
	}
	if w.AllowedIPs == nil {
		w.AllowedIPs = []string{}
	}
	if w.CustomFields == nil {
		w.CustomFields = []engine.CustomField{}
	}
	return w, nil
}

// InsertInbound stores a new inbound webhook with its keys sealed
// (engine.ErrConflict if the id exists, engine.ErrNotFound if its list
// does not).
func (r *repo) InsertInbound(ctx context.Context, w *engine.InboundWebhook) error {
	row, err := r.sealInbound(w)
	if err != nil {
		return err
	}
	_, err = r.conn(ctx).NewInsert().Model(row).Exec(ctx)
	return wrap(err, "insert inbound webhook %s", w.ID)
}

// GetInbound returns an inbound webhook with its keys opened.
func (r *repo) GetInbound(ctx context.Context, id string) (*engine.InboundWebhook, error) {
	var row inboundRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(err, "get inbound webhook %s", id)
	}
	w, err := r.openInbound(&row)
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// ListInbound returns every inbound webhook, newest first.
func (r *repo) ListInbound(ctx context.Context) ([]engine.InboundWebhook, error) {
	var rows []inboundRow
	if err := r.conn(ctx).NewSelect().Model(&rows).OrderExpr("created_at DESC, id DESC").Scan(ctx); err != nil {
		return nil, wrap(err, "list inbound webhooks")
	}
	out := make([]engine.InboundWebhook, len(rows))
	for i := range rows {
		w, err := r.openInbound(&rows[i])
		if err != nil {
			return nil, err
		}
		out[i] = w
	}
	return out, nil
}

// UpdateInbound writes every field of w (keys sealed) but its id and
// creation time.
func (r *repo) UpdateInbound(ctx context.Context, w *engine.InboundWebhook) error {
	row, err := r.sealInbound(w)
	if err != nil {
		return err
	}
	res, err := r.conn(ctx).NewUpdate().Model(row).
		Column("name", "list_id", "action", "allowed_methods", "allowed_headers", "allowed_ips", "custom_fields",
			"api_key", "secret_key", "updated_at").
		WherePK().Exec(ctx)
	if err != nil {
		return wrap(err, "update inbound webhook %s", w.ID)
	}
	n, err := affected(res)
	if err != nil {
		return wrap(err, "update inbound webhook %s", w.ID)
	}
	if n == 0 {
		return notFound("update inbound webhook %s", w.ID)
	}
	return nil
}

// DeleteInbound deletes an inbound webhook with its activity and
// refusals (ON DELETE CASCADE).
func (r *repo) DeleteInbound(ctx context.Context, id string) error {
	res, err := r.conn(ctx).ExecContext(ctx, "DELETE FROM inbound_webhooks WHERE id = ?", id)
	if err != nil {
		return wrap(err, "delete inbound webhook %s", id)
	}
	n, err := affected(res)
	if err != nil {
		return wrap(err, "delete inbound webhook %s", id)
	}
	if n == 0 {
		return notFound("delete inbound webhook %s", id)
	}
	return nil
}

// RecordInboundCall counts a call in its webhook's hourly bucket and, for
// a refusal, stores it and drops the webhook's refusals beyond the last
// engine.InboundRefusalsKept, atomically (engine.ErrNotFound when the
// webhook does not exist).
func (r *repo) RecordInboundCall(ctx context.Context, call *engine.InboundCall) error {
	accepted, refused := 1, 0
	if !call.Accepted {
		accepted, refused = 0, 1
	}
	return r.atomic(ctx, func(ctx context.Context, r *repo) error {
		_, err := r.conn(ctx).ExecContext(ctx, `INSERT INTO inbound_activity (webhook_id, hour, accepted, refused)
VALUES (?, ?, ?, ?) ON CONFLICT (webhook_id, hour) DO UPDATE SET
accepted = inbound_activity.accepted + excluded.accepted, refused = inbound_activity.refused + excluded.refused`,
			call.WebhookID, ut(hourOf(call.At)), accepted, refused)
		if err != nil {
			return wrap(err, "count a call of inbound webhook %s", call.WebhookID)
		}
		if call.Accepted {
			return nil
		}
		f := call.Refusal
		row := &inboundRefusalRow{ID: f.ID, WebhookID: call.WebhookID, At: ut(call.At), Code: string(f.Code),
			Reason: cleanText(f.Reason), Method: cleanText(f.Method), RemoteIP: f.RemoteIP}
		if _, err := r.conn(ctx).NewInsert().Model(row).Exec(ctx); err != nil {
			return wrap(err, "record a refusal of inbound webhook %s", call.WebhookID)
		}
		_, err = r.conn(ctx).ExecContext(ctx, `DELETE FROM inbound_refusals WHERE webhook_id = ? AND id NOT IN
(SELECT id FROM inbound_refusals WHERE webhook_id = ? ORDER BY at DESC, id DESC LIMIT ?)`,
			call.WebhookID, call.WebhookID, engine.InboundRefusalsKept)
		return wrap(err, "prune the refusals of inbound webhook %s", call.WebhookID)
	})
}

// GetInboundActivity returns a webhook's totals, its hourly buckets from
// since's hour on (oldest first) and its last refusals (newest first).
func (r *repo) GetInboundActivity(ctx context.Context, id string, since time.Time) (*engine.InboundActivity, error) {
	out := &engine.InboundActivity{InboundWebhookID: id, Hours: []engine.InboundHour{}, Refusals: []engine.InboundRefusal{}}
	err := r.conn(ctx).NewSelect().TableExpr("inbound_activity").
		ColumnExpr("COALESCE(SUM(accepted), 0), COALESCE(SUM(refused), 0)").
		Where("webhook_id = ?", id).Scan(ctx, &out.Accepted, &out.Refused)
	if err != nil {
		return nil, wrap(err, "activity of inbound webhook %s", id)
	}
	var hours []inboundHourRow
	err = r.conn(ctx).NewSelect().Model(&hours).Column("hour", "accepted", "refused").
		Where("webhook_id = ? AND hour >= ?", id, ut(hourOf(since))).OrderExpr("hour").Scan(ctx)
	if err != nil {
		return nil, wrap(err, "hourly activity of inbound webhook %s", id)
	}
	for _, h := range hours {
		out.Hours = append(out.Hours, engine.InboundHour{Hour: h.Hour.T(), Accepted: h.Accepted, Refused: h.Refused})
	}
	var refusals []inboundRefusalRow
	err = r.conn(ctx).NewSelect().Model(&refusals).Where("webhook_id = ?", id).
		OrderExpr("at DESC, id DESC").Limit(engine.InboundRefusalsKept).Scan(ctx)
	if err != nil {
		return nil, wrap(err, "refusals of inbound webhook %s", id)
	}
	for _, f := range refusals {
		out.Refusals = append(out.Refusals, engine.InboundRefusal{ID: f.ID, At: f.At.T(), Code: engine.RefusalCode(f.Code),
			Reason: f.Reason, Method: f.Method, RemoteIP: f.RemoteIP})
	}
	return out, nil
}
