package engine

import (
	"context"
	"time"
)

// InboundTx holds the storage operations of inbound webhooks (issue 4); it is part of Tx.
type InboundTx interface {
	// InsertInbound stores a new inbound webhook, its keys sealed
	// (ErrConflict if the id exists, ErrNotFound if its list does not).
	InsertInbound(ctx context.Context, w *InboundWebhook) error
	// GetInbound returns an inbound webhook with its keys opened.
	GetInbound(ctx context.Context, id string) (*InboundWebhook, error)
	// ListInbound returns every inbound webhook, newest first.
	ListInbound(ctx context.Context) ([]InboundWebhook, error)
	// UpdateInbound writes every field of w but its id and creation time.
	UpdateInbound(ctx context.Context, w *InboundWebhook) error
	// DeleteInbound deletes an inbound webhook with its activity.
	DeleteInbound(ctx context.Context, id string) error
	// RecordInboundCall counts a call in its webhook's hourly activity
	// and, for a refusal, keeps it among the webhook's last
	// InboundRefusalsKept refusals.
	RecordInboundCall(ctx context.Context, call *InboundCall) error
	// GetInboundActivity returns a webhook's totals, its hourly buckets
	// from since on (oldest first) and its last refusals (newest first).
	GetInboundActivity(ctx context.Context, id string, since time.Time) (*InboundActivity, error)
}

// InboundRefusalsKept is how many of its last refusals an inbound webhook
// keeps, with their reasons.
const InboundRefusalsKept = 50
