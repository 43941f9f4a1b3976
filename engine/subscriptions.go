package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine/netguard"
)

// Event subscriptions push Sluice's own events to outside URLs, outside
// any scenario. Each subscription names one event and, optionally, one
// list; every matching event becomes a delivery of kind
// KindSubscription that goes through the same pipeline as scenario
// webhooks (signed with the subscription's secret, retried, logged,
// counted). A subscription whose URL keeps failing is deactivated; the
// events that happen while it is inactive are buffered for
// BufferRetention and replayed or dropped when it is activated again.

// Events a subscription can name.
const (
	SubOptinFinalized  = "optin_finalized"  // a contact subscribed to a list
	SubOptoutFinalized = "optout_finalized" // a contact unsubscribed from a list
	SubProfileUpdated  = "profile_updated"  // a contact's fields changed
	SubContactCreated  = "contact_created"  // a contact was created
)

// SubscriptionEvents lists the events a subscription can name.
func SubscriptionEvents() []string {
	return []string{SubOptinFinalized, SubOptoutFinalized, SubProfileUpdated, SubContactCreated}
}

// Rules of deactivation, buffering and replay.
const (
	// DeactivateAfterFailures is how many attempts in a row must have
	// failed before a subscription is deactivated…
	DeactivateAfterFailures = 10
	// DeactivateWindow …and for how long every attempt must have failed
	// (the failure streak must have begun at least this long ago).
	DeactivateWindow = 24 * time.Hour
	// BufferRetention is how long the events of an inactive subscription
	// are kept for a replay.
	BufferRetention = 5 * 24 * time.Hour
	// ReplayInterval spaces the first attempts of replayed events: 10 per
	// second per subscription.
	ReplayInterval = 100 * time.Millisecond
)

// NotificationSubscriptionDeactivated is the type of the notification
// recorded when a subscription is deactivated for failing.
const NotificationSubscriptionDeactivated = "subscription_deactivated"

// Subscription is an outbound webhook bound to one event (and optionally
// one list), with its delivery counters.
type Subscription struct {
	ID     string `json:"id"`
	App    string `json:"app"`
	Event  string `json:"event"`
	URL    string `json:"url"`
	ListID string `json:"list_id,omitempty"`
	// Secret signs the requests (whsec_…); encrypted at rest.
	Secret             string     `json:"secret"`
	Active             bool       `json:"active"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	DeactivatedAt      *time.Time `json:"deactivated_at"`
	DeactivationReason string     `json:"deactivation_reason,omitempty"`
	SubscriptionCounts
}

// SubscriptionCounts are a subscription's counters, updated in the same
// transaction as what they count.
type SubscriptionCounts struct {
	Deliveries     int64 `json:"deliveries"` // created
	Accepted       int64 `json:"accepted"`
	Pending        int64 `json:"pending"`
	Failed         int64 `json:"failed"`
	Attempts       int64 `json:"attempts"`
	FailedAttempts int64 `json:"failed_attempts"`
	// ConsecutiveFailures counts the failed attempts since the last
	// accepted one; FailingSince is when that streak began.
	ConsecutiveFailures int64      `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since,omitempty"`
	LastAttemptAt       *time.Time `json:"last_attempt_at,omitempty"`
	LastSuccessAt       *time.Time `json:"last_success_at,omitempty"`
	LastError           string     `json:"last_error,omitempty"`
	// Buffered events wait for the subscription to be activated again;
	// Replayed, Dropped and Purged count what became of earlier ones.
	Buffered int64 `json:"buffered"`
	Replayed int64 `json:"replayed"`
	Dropped  int64 `json:"dropped"`
	Purged   int64 `json:"purged"`
}

// SubscriptionInput is the body of POST /api/v1/webhooks.
type SubscriptionInput struct {
	App    string `json:"app"`
	Event  string `json:"event"`
	URL    string `json:"url"`
	ListID string `json:"list_id,omitempty"`
	// Secret is the signing secret (whsec_ and the base64 of 24 to 64
	// bytes); one is generated when it is left out.
	Secret string `json:"secret,omitempty"`
}

// BufferedEvent is an event kept for an inactive subscription, with the
// request body it will be replayed with.
type BufferedEvent struct {
	Seq            int64 // arrival order
	SubscriptionID string
	MessageID      string
	ContactID      string
	Body           []byte
	OccurredAt     time.Time
}

// Notification is something the operator should know about, such as a
// subscription deactivated for failing.
type Notification struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	SubjectID string         `json:"subject_id,omitempty"`
	Message   string         `json:"message"`
	Data      map[string]any `json:"data,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

// subscriptionBody is the JSON a subscription's request carries.
type subscriptionBody struct {
	ID            string         `json:"id"`
	Event         string         `json:"event"`
	Timestamp     string         `json:"timestamp"`
	Data          map[string]any `json:"data"`
	ChangedFields []string       `json:"changed_fields,omitempty"`
}

// subscriptionSet is the cached index of every subscription by event.
type subscriptionSet struct {
	byEvent map[string][]*Subscription
	byID    map[string]*Subscription
}

// subscriptions returns the cached subscription index, reloading it after
// ActiveCacheTTL.
func (e *Engine) subscriptions(ctx context.Context, tx Tx) (*subscriptionSet, error) {
	return e.subs.get(e.cfg.ActiveCacheTTL, func() (*subscriptionSet, error) {
		list, err := tx.ListSubscriptions(ctx, "", "")
		if err != nil {
			return nil, fmt.Errorf("load subscriptions: %w", err)
		}
		set := &subscriptionSet{byEvent: map[string][]*Subscription{}, byID: map[string]*Subscription{}}
		for i := range list {
			s := &list[i]
			set.byEvent[s.Event] = append(set.byEvent[s.Event], s)
			set.byID[s.ID] = s
		}
		return set, nil
	})
}

// forgetSubscriptions drops the cached index after a local change.
func (e *Engine) forgetSubscriptions() {
	e.subs.forget()
}

// publishCreated publishes contact_created for a contact just inserted.
func (e *Engine) publishCreated(ctx context.Context, tx Tx, w *work, c *Contact, at time.Time) error {
	return e.publish(ctx, tx, w, SubContactCreated, c, "", nil, at)
}

// setSubscription subscribes (or unsubscribes) c to listID with
// tx.SetSubscription and, when that changed anything, publishes
// optin_finalized (or optout_finalized). Every change of a list
// subscription goes through it.
func (e *Engine) setSubscription(ctx context.Context, tx Tx, w *work, c *Contact, listID string, subscribed bool, at time.Time) (changed bool, err error) {
	ch, err := e.setSubscriptions(ctx, tx, w, []SubscriptionChange{{ListID: listID, ContactID: c.ID, Subscribed: subscribed}},
		[]*Contact{c}, nil, at, true)
	return err == nil && ch[0], err
}

// setSubscriptions is setSubscription for many changes (contacts[i] is
// the contact of changes[i]), in one statement per kind when no list and
// contact pair repeats, else one by one in order. The contacts in fresh
// are created by this transaction and have no subscription yet: when no
// pair repeats, subscribing one is a change written without waiting for
// an answer (SubscribeNew), and unsubscribing one changes nothing. When
// the caller does not read what changed (read false) and no subscription
// listens to optin_finalized or optout_finalized, the other contacts'
// changes are written without waiting either, and reported unchanged.
func (e *Engine) setSubscriptions(ctx context.Context, tx Tx, w *work, changes []SubscriptionChange, contacts []*Contact, fresh map[string]bool, at time.Time, read bool) ([]bool, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	changed := make([]bool, len(changes))
	seen := make(map[[2]string]bool, len(changes))
	for _, ch := range changes {
		// The store need not check (Tx.SetSubscriptions); a list found
		// once is remembered, so this costs a statement per new list.
		ok, err := e.listExists(ctx, tx, ch.ListID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("list %s: %w", ch.ListID, ErrNotFound)
		}
		seen[[2]string{ch.ListID, ch.ContactID}] = true
	}
	blind := !read
	if blind {
		set, err := e.subscriptions(ctx, tx)
		if err != nil {
			return nil, err
		}
		blind = len(set.byEvent[SubOptinFinalized]) == 0 && len(set.byEvent[SubOptoutFinalized]) == 0
	}
	var err error
	if len(seen) == len(changes) {
		changed, err = e.setEachOnce(ctx, tx, changes, fresh, at, blind)
	} else {
		for i, ch := range changes {
			if changed[i], err = tx.SetSubscription(ctx, ch.ListID, ch.ContactID, ch.Subscribed, at); err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	for i, ch := range changes {
		if !changed[i] {
			continue
		}
		name := SubOptoutFinalized
		if ch.Subscribed {
			name = SubOptinFinalized
		}
		if err := e.publish(ctx, tx, w, name, contacts[i], ch.ListID, nil, at); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// setEachOnce applies changes, no list and contact pair twice: those of
// the contacts in fresh without asking (see setSubscriptions), the others
// with tx.SetSubscriptions, or tx.SetSubscriptionsLater when blind. It
// reports for each whether it changed anything (false for the others when
// blind).
func (e *Engine) setEachOnce(ctx context.Context, tx Tx, changes []SubscriptionChange, fresh map[string]bool, at time.Time, blind bool) ([]bool, error) {
	if len(fresh) == 0 && !blind {
		return tx.SetSubscriptions(ctx, changes, at)
	}
	changed := make([]bool, len(changes))
	var subscribe, stored []SubscriptionChange
	var storedAt []int
	for i, ch := range changes {
		switch {
		case !fresh[ch.ContactID]:
			stored, storedAt = append(stored, ch), append(storedAt, i)
		case ch.Subscribed:
			subscribe, changed[i] = append(subscribe, ch), true
		}
	}
	if err := tx.SubscribeNew(ctx, subscribe, at); err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		return changed, nil
	}
	if blind {
		return changed, tx.SetSubscriptionsLater(ctx, stored, at)
	}
	got, err := tx.SetSubscriptions(ctx, stored, at)
	if err != nil {
		return nil, err
	}
	for n, i := range storedAt {
		changed[i] = got[n]
	}
	return changed, nil
}

// publishEvent publishes what a recorded event means to subscriptions:
// contact_updated becomes profile_updated with the changed fields.
func (e *Engine) publishEvent(ctx context.Context, tx Tx, w *work, ev *Event, c *Contact) error {
	if ev.Type != EventContactUpdated {
		return nil
	}
	var fields []string
	if raw, ok := ev.Data["fields"].([]any); ok {
		for _, f := range raw {
			fields = append(fields, fmt.Sprint(f))
		}
	}
	return e.publish(ctx, tx, w, SubProfileUpdated, c, "", fields, ev.OccurredAt)
}

// publish makes, in tx, one delivery of event name about c per matching
// active subscription (enqueued after commit), and buffers the event for
// each matching inactive one. With no subscription for name it costs a
// map lookup.
func (e *Engine) publish(ctx context.Context, tx Tx, w *work, name string, c *Contact, listID string, changed []string, at time.Time) error {
	set, err := e.subscriptions(ctx, tx)
	if err != nil {
		return err
	}
	subs := set.byEvent[name]
	if len(subs) == 0 {
		return nil
	}
	var lists []string
	listsLoaded := false
	for _, s := range subs {
		if s.ListID != "" {
			if name == SubOptinFinalized || name == SubOptoutFinalized {
				if listID != s.ListID {
					continue
				}
			} else {
				if !listsLoaded {
					if lists, err = tx.ContactLists(ctx, c.ID); err != nil {
						return fmt.Errorf("lists of contact %s: %w", c.ID, err)
					}
					listsLoaded = true
				}
				if !slices.Contains(lists, s.ListID) {
					continue
				}
			}
		}
		id := NewID("dlv")
		msg := "evt_" + IDSuffix(id)
		body, err := buildSubscriptionBody(msg, name, at, c, listID, changed)
		if err != nil {
			return err
		}
		if !s.Active {
			ok, err := tx.BufferSubscriptionEvent(ctx, &BufferedEvent{SubscriptionID: s.ID, MessageID: msg,
				ContactID: c.ID, Body: body, OccurredAt: at})
			if err != nil {
				return fmt.Errorf("buffer event for subscription %s: %w", s.ID, err)
			}
			if ok {
				continue
			}
			// Activated meanwhile: deliver it.
		}
		if err := e.insertSubscriptionDeliveries(ctx, tx, w, s, []*Delivery{
			subscriptionDelivery(s, msg, c.ID, body, at, at)}); err != nil {
			return err
		}
	}
	return nil
}

// subscriptionDelivery is the delivery of one event to s, first tried at
// due. Its id derives from the message id, so a replay is idempotent.
func subscriptionDelivery(s *Subscription, msg, contactID string, body []byte, created, due time.Time) *Delivery {
	return &Delivery{ID: "dlv_" + IDSuffix(msg), MessageID: msg, Kind: KindSubscription, SubscriptionID: s.ID,
		ContactID: contactID, URL: s.URL, Method: "POST", Headers: map[string]string{}, Body: body, Status: DeliveryPending,
		CreatedAt: created, NextAttemptAt: &due}
}

// insertSubscriptionDeliveries stores ds (deliveries of s), has them
// counted at the end of the transaction and enqueued after commit.
func (e *Engine) insertSubscriptionDeliveries(ctx context.Context, tx Tx, w *work, s *Subscription, ds []*Delivery) error {
	for _, d := range ds {
		ok, err := tx.InsertDelivery(ctx, d)
		if err != nil {
			return fmt.Errorf("insert delivery for subscription %s: %w", s.ID, err)
		}
		if ok {
			w.deliveries = append(w.deliveries, d)
			if w.subDeliveries == nil {
				w.subDeliveries = map[string]int{}
			}
			w.subDeliveries[s.ID]++
		}
	}
	return nil
}

// countSubscriptionDeliveries adds the transaction's new deliveries to
// their subscriptions' counters, once per subscription, in id order (so
// two transactions lock the rows in the same order) and last, so that a
// subscription's row stays locked (PostgreSQL) only until commit.
func countSubscriptionDeliveries(ctx context.Context, tx Tx, w *work) error {
	for _, id := range slices.Sorted(maps.Keys(w.subDeliveries)) {
		if err := tx.AddSubscriptionDeliveries(ctx, id, w.subDeliveries[id]); err != nil {
			return fmt.Errorf("count deliveries of subscription %s: %w", id, err)
		}
	}
	return nil
}

// buildSubscriptionBody makes the request body of one event.
func buildSubscriptionBody(msg, name string, at time.Time, c *Contact, listID string, changed []string) ([]byte, error) {
	data := map[string]any{"type": "contact", "id": c.ID, "email": c.Email, "firstname": c.Firstname,
		"lastname": c.Lastname, "fields": nonNilMap(c.Fields), "dates": nonNilMap(c.Dates),
		"groups": nonNilSlice(c.Groups)}
	if listID != "" {
		data["list_id"] = listID
	}
	body, err := json.Marshal(subscriptionBody{ID: msg, Event: name, Timestamp: at.UTC().Format(time.RFC3339),
		Data: data, ChangedFields: changed})
	if err != nil {
		return nil, fmt.Errorf("build %s body: %w", name, err)
	}
	return body, nil
}

func nonNilMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// subscriptionSecret is the signing secret of a subscription's delivery.
// A delivery made for a subscription deleted meanwhile (another process
// still had it cached) gets no secret: the sender then refuses to send it
// and it fails when its retry window closes.
func (e *Engine) subscriptionSecret(ctx context.Context, d *Delivery) (string, error) {
	set, err := e.subscriptions(ctx, e.st)
	if err == nil {
		if s := set.byID[d.SubscriptionID]; s != nil {
			return s.Secret, nil
		}
	}
	s, err := e.st.GetSubscription(ctx, d.SubscriptionID)
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("load subscription of delivery %s: %w", d.ID, err)
	}
	return s.Secret, nil
}

// subscriptionAttempted counts an attempt of a subscription's delivery in
// tx and deactivates the subscription when the failure rule is met: at
// least DeactivateAfterFailures failed attempts in a row, the first of
// them at least DeactivateWindow ago (so every attempt of the window
// failed). A notification records the deactivation.
func (e *Engine) subscriptionAttempted(ctx context.Context, tx Tx, d *Delivery, a *Attempt, now time.Time) error {
	s, err := tx.RecordSubscriptionAttempt(ctx, d.SubscriptionID, SubscriptionAttempt{At: a.At,
		Accepted: d.Status == DeliveryAccepted, Status: d.Status, Error: a.Error})
	if isNotFound(err) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("count attempt of subscription %s: %w", d.SubscriptionID, err)
	}
	if !s.Active || s.ConsecutiveFailures < DeactivateAfterFailures || s.FailingSince == nil ||
		s.FailingSince.After(now.Add(-DeactivateWindow)) {
		return nil
	}
	reason := fmt.Sprintf("%d attempts in a row failed since %s (last error: %s)", s.ConsecutiveFailures,
		s.FailingSince.UTC().Format(time.RFC3339), s.LastError)
	ok, err := tx.DeactivateSubscription(ctx, s.ID, now, reason)
	if err != nil || !ok {
		return err
	}
	e.forgetSubscriptions()
	e.log.Warn("subscription deactivated", "subscription", s.ID, "url", s.URL, "reason", reason)
	return tx.InsertNotification(ctx, &Notification{ID: NewID("ntf"), Type: NotificationSubscriptionDeactivated,
		SubjectID: s.ID, CreatedAt: now,
		Message: fmt.Sprintf("Webhook %s (%s, %s) to %s was deactivated: %s. Its events are kept for %d days; "+
			"activate it with replay_events to deliver them.", s.ID, s.App, s.Event, s.URL, reason, int(BufferRetention/(24*time.Hour))),
		Data: map[string]any{"app": s.App, "event": s.Event, "url": s.URL,
			"consecutive_failures": s.ConsecutiveFailures, "failing_since": s.FailingSince.UTC().Format(time.RFC3339),
			"last_error": s.LastError}})
}

// checkSecret checks a signing secret given by a client.
func checkSecret(s string) error {
	raw, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return Invalid("secret", "a secret starts with whsec_")
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return Invalid("secret", "after whsec_ a secret is standard base64")
	}
	if len(b) < 24 || len(b) > 64 {
		return Invalid("secret", "a secret holds 24 to 64 bytes; this one holds %d", len(b))
	}
	return nil
}

// CreateSubscription subscribes a URL to an event.
func (e *Engine) CreateSubscription(ctx context.Context, in SubscriptionInput) (*Subscription, error) {
	in.App, in.Event, in.URL, in.ListID = strings.TrimSpace(in.App), strings.TrimSpace(in.Event),
		strings.TrimSpace(in.URL), strings.TrimSpace(in.ListID)
	if len(in.App) > 100 {
		return nil, Invalid("app", "an app name is at most 100 characters")
	}
	if !slices.Contains(SubscriptionEvents(), in.Event) {
		return nil, Invalid("event", "the event is one of %s", strings.Join(SubscriptionEvents(), ", "))
	}
	if err := netguard.ValidateURL(in.URL); err != nil {
		return nil, Invalid("url", "%v", err)
	}
	if in.Secret == "" {
		in.Secret = e.cfg.NewSecret()
	} else if err := checkSecret(in.Secret); err != nil {
		return nil, err
	}
	if in.ListID != "" {
		if _, err := e.st.GetList(ctx, in.ListID); err != nil {
			if isNotFound(err) {
				return nil, Invalid("list_id", "no list %q", in.ListID)
			}
			return nil, err
		}
	}
	now := e.now()
	s := &Subscription{ID: NewID("whk"), App: in.App, Event: in.Event, URL: in.URL, ListID: in.ListID,
		Secret: in.Secret, Active: true, CreatedAt: now, UpdatedAt: now}
	if err := e.st.InsertSubscription(ctx, s); err != nil {
		return nil, fmt.Errorf("create subscription: %w", err)
	}
	e.forgetSubscriptions()
	return s, nil
}

// Subscriptions lists the subscriptions of app and event ("": any).
func (e *Engine) Subscriptions(ctx context.Context, app, event string) ([]Subscription, error) {
	return e.st.ListSubscriptions(ctx, app, event)
}

// GetSubscription returns a subscription with its counters.
func (e *Engine) GetSubscription(ctx context.Context, id string) (*Subscription, error) {
	return e.st.GetSubscription(ctx, id)
}

// DeleteSubscription deletes a subscription, its deliveries and its
// buffered events.
func (e *Engine) DeleteSubscription(ctx context.Context, id string) error {
	if err := e.st.DeleteSubscription(ctx, id); err != nil {
		return err
	}
	e.forgetSubscriptions()
	return nil
}

// DeactivateSubscription stops delivering a subscription's events; they
// are buffered until it is activated again.
func (e *Engine) DeactivateSubscription(ctx context.Context, id string) (*Subscription, error) {
	if _, err := e.st.DeactivateSubscription(ctx, id, e.now(), "deactivated by request"); err != nil {
		return nil, err
	}
	e.forgetSubscriptions()
	return e.st.GetSubscription(ctx, id)
}

// ActivateSubscription activates a subscription again. With replay, the
// events buffered while it was inactive (at most BufferRetention old) are
// delivered in their original order, their first attempts spaced by
// ReplayInterval; without, they are dropped and counted. Activating an
// active subscription changes nothing.
func (e *Engine) ActivateSubscription(ctx context.Context, id string, replay bool) (*Subscription, error) {
	const batch = 500
	err := e.inTx(ctx, func(ctx context.Context, tx Tx, w *work) error {
		now := e.now()
		ok, err := tx.ActivateSubscription(ctx, id, now)
		if err != nil || !ok {
			return err
		}
		if _, err := tx.PurgeBufferedEvents(ctx, now.Add(-BufferRetention)); err != nil {
			return err
		}
		if !replay {
			_, err := tx.ClearBufferedEvents(ctx, id, math.MaxInt64, BufferDropped)
			return err
		}
		s, err := tx.GetSubscription(ctx, id)
		if err != nil {
			return err
		}
		var last int64
		due := now
		for {
			evs, err := tx.BufferedEvents(ctx, id, last, batch)
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				break
			}
			last = evs[len(evs)-1].Seq
			ds := make([]*Delivery, len(evs))
			for i := range evs {
				ds[i] = subscriptionDelivery(s, evs[i].MessageID, evs[i].ContactID, evs[i].Body, evs[i].OccurredAt, due)
				due = due.Add(ReplayInterval)
			}
			if err := e.insertSubscriptionDeliveries(ctx, tx, w, s, ds); err != nil {
				return err
			}
		}
		if last == 0 {
			return nil
		}
		_, err = tx.ClearBufferedEvents(ctx, id, last, BufferReplayed)
		return err
	})
	e.forgetSubscriptions()
	if err != nil {
		return nil, fmt.Errorf("activate subscription %s: %w", id, err)
	}
	return e.st.GetSubscription(ctx, id)
}

// PurgeSubscriptionBuffers deletes the buffered events older than
// BufferRetention and returns how many it deleted. The sweeper calls it.
func (e *Engine) PurgeSubscriptionBuffers(ctx context.Context) (int, error) {
	n, err := e.st.PurgeBufferedEvents(ctx, e.now().Add(-BufferRetention))
	if err != nil {
		return 0, fmt.Errorf("purge buffered events: %w", err)
	}
	return n, nil
}

// SubscriptionDeliveries lists a subscription's deliveries with their
// attempts, newest first; next is the cursor of the following page (""
// at the end).
func (e *Engine) SubscriptionDeliveries(ctx context.Context, id string, status DeliveryStatus, limit int, cursor string) ([]DeliveryView, string, error) {
	if _, err := e.st.GetSubscription(ctx, id); err != nil {
		return nil, "", err
	}
	switch status {
	case "", DeliveryPending, DeliveryAccepted, DeliveryFailed:
	default:
		return nil, "", Invalid("status", "status is pending, accepted or failed")
	}
	if limit <= 0 {
		limit = 50
	}
	if limit > 500 {
		return nil, "", Invalid("limit", "limit is 1 to 500")
	}
	ds, err := e.st.ListSubscriptionDeliveries(ctx, id, status, limit+1, cursor)
	if err != nil {
		return nil, "", err
	}
	return e.deliveryPage(ctx, ds, limit)
}

// Notifications returns the latest notifications, newest first (limit
// defaults to 50, at most 500).
func (e *Engine) Notifications(ctx context.Context, limit int) ([]Notification, error) {
	if limit <= 0 {
		limit = 50
	}
	if limit > 500 {
		return nil, Invalid("limit", "limit is 1 to 500")
	}
	return e.st.ListNotifications(ctx, limit)
}
