package engine

import (
	"context"
	"time"
)

// SubscriptionTx holds the storage operations of event subscriptions (issue 4); it is part of Tx.
type SubscriptionTx interface {
	// InsertSubscription inserts s (its secret sealed at rest).
	InsertSubscription(ctx context.Context, s *Subscription) error
	// GetSubscription returns a subscription with its counters.
	GetSubscription(ctx context.Context, id string) (*Subscription, error)
	// ListSubscriptions returns the subscriptions of app and event (""
	// matches any), oldest first.
	ListSubscriptions(ctx context.Context, app, event string) ([]Subscription, error)
	// DeleteSubscription deletes a subscription with its deliveries (and
	// their attempts) and its buffered events.
	DeleteSubscription(ctx context.Context, id string) error
	// AddSubscriptionDeliveries counts n new pending deliveries.
	AddSubscriptionDeliveries(ctx context.Context, id string, n int) error
	// RecordSubscriptionAttempt counts one attempt of one of the
	// subscription's deliveries (counters and failure streak) and returns
	// the subscription as it is after it.
	RecordSubscriptionAttempt(ctx context.Context, id string, a SubscriptionAttempt) (*Subscription, error)
	// DeactivateSubscription marks an active subscription inactive and
	// reports whether it was active.
	DeactivateSubscription(ctx context.Context, id string, at time.Time, reason string) (bool, error)
	// ActivateSubscription marks an inactive subscription active, clears
	// its failure streak and reports whether it was inactive.
	ActivateSubscription(ctx context.Context, id string, at time.Time) (bool, error)

	// BufferSubscriptionEvent keeps ev for its subscription if that
	// subscription is inactive, and reports whether it did (false: the
	// subscription is active or gone, nothing was stored).
	BufferSubscriptionEvent(ctx context.Context, ev *BufferedEvent) (bool, error)
	// BufferedEvents returns up to limit buffered events of a subscription
	// with Seq above afterSeq, oldest first.
	BufferedEvents(ctx context.Context, subscriptionID string, afterSeq int64, limit int) ([]BufferedEvent, error)
	// ClearBufferedEvents deletes the subscription's buffered events with
	// Seq up to upToSeq and counts them as outcome.
	ClearBufferedEvents(ctx context.Context, subscriptionID string, upToSeq int64, outcome BufferOutcome) (int, error)
	// PurgeBufferedEvents deletes every buffered event that occurred
	// before t, counts them as purged and returns how many it deleted.
	PurgeBufferedEvents(ctx context.Context, before time.Time) (int, error)

	// ListSubscriptionDeliveries returns one page of a subscription's
	// deliveries, newest first: with status (""; any), ids below cursor.
	ListSubscriptionDeliveries(ctx context.Context, subscriptionID string, status DeliveryStatus, limit int, cursor string) ([]Delivery, error)

	// InsertNotification records a notification.
	InsertNotification(ctx context.Context, n *Notification) error
	// ListNotifications returns up to limit notifications, newest first.
	ListNotifications(ctx context.Context, limit int) ([]Notification, error)
}

// SubscriptionAttempt is what one attempt of a subscription's delivery
// changes in the subscription's counters.
type SubscriptionAttempt struct {
	At       time.Time
	Accepted bool           // the attempt got a 2xx
	Status   DeliveryStatus // the delivery's status after the attempt
	Error    string
}

// BufferOutcome says what became of buffered events.
type BufferOutcome string

// Buffer outcomes (each has a counter on the subscription).
const (
	BufferReplayed BufferOutcome = "replayed"
	BufferDropped  BufferOutcome = "dropped"
	BufferPurged   BufferOutcome = "purged"
)
