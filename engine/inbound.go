package engine

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine/inbound"
)

// InboundAction is what an inbound webhook does to the contact it is
// called for.
type InboundAction string

// Inbound webhook actions.
const (
	InboundSubscribe   InboundAction = "subscribe"
	InboundUnsubscribe InboundAction = "unsubscribe"
)

// CustomField is a custom field an inbound webhook accepts: its key (c3)
// and its name for people (First name).
type CustomField struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

// InboundWebhook is an URL outside systems call to subscribe contacts to a
// list or unsubscribe them from it. Its keys are encrypted at rest.
type InboundWebhook struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	ListID         string            `json:"list_id"`
	Action         InboundAction     `json:"action"`
	AllowedMethods []string          `json:"allowed_methods"`
	AllowedHeaders map[string]string `json:"allowed_headers"` // header name → required value
	AllowedIPs     []string          `json:"allowed_ips"`     // addresses and CIDR ranges; empty: any
	CustomFields   []CustomField     `json:"custom_fields"`
	URL            string            `json:"url"`        // /hooks/{id}; not stored
	APIKey         string            `json:"api_key"`    // the quick way's api-key
	SecretKey      string            `json:"secret_key"` // 64 hex characters: the secure way's AES-256 key
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
}

// InboundCall is the outcome of one call to an inbound webhook, as its
// activity counts it.
type InboundCall struct {
	WebhookID string
	At        time.Time
	Accepted  bool
	Refusal   InboundRefusal // when not accepted
}

// InboundRefusal is a refused call with its reason.
type InboundRefusal struct {
	ID       string      `json:"id"`
	At       time.Time   `json:"at"`
	Code     RefusalCode `json:"code"`
	Reason   string      `json:"reason"`
	Method   string      `json:"method"`
	RemoteIP string      `json:"remote_ip"`
}

// InboundHour is one hourly bucket of an inbound webhook's activity.
type InboundHour struct {
	Hour     time.Time `json:"hour"`
	Accepted int64     `json:"accepted"`
	Refused  int64     `json:"refused"`
}

// InboundActivity is what happened to an inbound webhook: totals, hourly
// buckets and the last refusals with their reasons.
type InboundActivity struct {
	InboundWebhookID string           `json:"inbound_webhook_id"`
	Accepted         int64            `json:"accepted"`
	Refused          int64            `json:"refused"`
	Hours            []InboundHour    `json:"hours"`
	Refusals         []InboundRefusal `json:"refusals"`
}

// RefusalCode says why a call to an inbound webhook was refused; the api
// answers wrong_key 401, method_not_allowed 405, ip_not_allowed and
// header_not_allowed 403, bad_payload 400.
type RefusalCode string

// Refusal codes.
const (
	RefusedKey     RefusalCode = "wrong_key"
	RefusedMethod  RefusalCode = "method_not_allowed"
	RefusedIP      RefusalCode = "ip_not_allowed"
	RefusedHeader  RefusalCode = "header_not_allowed"
	RefusedPayload RefusalCode = "bad_payload"
)

// RefusedError is a refused call to an inbound webhook. Message (and
// Field) are for the caller; the activity keeps Message and Detail.
type RefusedError struct {
	Code    RefusalCode
	Field   string
	Message string
	Detail  string   // for the operator only
	Allowed []string // method_not_allowed: the methods that are
}

func (e *RefusedError) Error() string { return string(e.Code) + ": " + e.reason() }

// reason is the message with its detail, as the activity keeps it.
func (e *RefusedError) reason() string {
	if e.Detail == "" {
		return e.Message
	}
	return e.Message + " (" + e.Detail + ")"
}

// InboundInput is the body of POST and PUT /api/v1/inbound-webhooks.
type InboundInput struct {
	Name           string            `json:"name"`
	ListID         string            `json:"list_id"`
	Action         InboundAction     `json:"action,omitempty"`          // defaults to subscribe
	AllowedMethods []string          `json:"allowed_methods,omitempty"` // GET and/or POST; defaults to both
	AllowedHeaders map[string]string `json:"allowed_headers,omitempty"`
	AllowedIPs     []string          `json:"allowed_ips,omitempty"`
	CustomFields   []CustomField     `json:"custom_fields,omitempty"`
}

// InboundRequest is one HTTP call to an inbound webhook as the api
// received it. RemoteIP is the client's address as the server saw it.
type InboundRequest struct {
	Method      string
	RemoteIP    netip.Addr
	Headers     http.Header
	Query       string // the raw query string
	Body        []byte
	ContentType string
}

// InboundResult is the answer to an accepted call.
type InboundResult struct {
	Status    string `json:"status"` // subscribed or unsubscribed
	ContactID string `json:"contact_id"`
	EventID   string `json:"event_id"`
}

// Limits of an inbound webhook's configuration.
const (
	maxInboundHeaders = 20
	maxInboundIPs     = 100
	maxCustomFields   = 100
)

// headerName is what an HTTP header name may look like (an RFC 9110 token).
var headerName = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")

// checkInbound validates in and returns the webhook it describes (keys,
// id and times left to the caller).
func (e *Engine) checkInbound(ctx context.Context, in InboundInput) (*InboundWebhook, error) {
	w := &InboundWebhook{Name: strings.TrimSpace(in.Name), ListID: strings.TrimSpace(in.ListID), Action: in.Action,
		AllowedMethods: []string{}, AllowedHeaders: map[string]string{}, AllowedIPs: []string{}, CustomFields: []CustomField{}}
	if w.Name == "" || len(w.Name) > 200 {
		return nil, Invalid("name", "a name is 1 to 200 characters")
	}
	if w.ListID == "" {
		return nil, Invalid("list_id", "list_id is required")
	}
	if _, err := e.st.GetList(ctx, w.ListID); err != nil {
		if isNotFound(err) {
			return nil, Invalid("list_id", "no list %q", w.ListID)
		}
		return nil, err
	}
	switch w.Action {
	case "":
		w.Action = InboundSubscribe
	case InboundSubscribe, InboundUnsubscribe:
	default:
		return nil, Invalid("action", "action is subscribe or unsubscribe, not %q", in.Action)
	}
	methods := in.AllowedMethods
	if len(methods) == 0 {
		methods = []string{"GET", "POST"}
	}
	for i, m := range methods {
		m = strings.ToUpper(strings.TrimSpace(m))
		if m != "GET" && m != "POST" {
			return nil, Invalid(fmt.Sprintf("allowed_methods[%d]", i), "an inbound webhook answers GET and POST, not %q", methods[i])
		}
		if !slices.Contains(w.AllowedMethods, m) {
			w.AllowedMethods = append(w.AllowedMethods, m)
		}
	}
	if len(in.AllowedHeaders) > maxInboundHeaders {
		return nil, Invalid("allowed_headers", "at most %d headers", maxInboundHeaders)
	}
	for name, value := range in.AllowedHeaders {
		f := "allowed_headers." + name
		if !headerName.MatchString(name) {
			return nil, Invalid(f, "%q is not an HTTP header name", name)
		}
		if value == "" || len(value) > 1024 || strings.ContainsAny(value, "\r\n\x00") {
			return nil, Invalid(f, "the required value is 1 to 1024 characters on one line")
		}
		canon := http.CanonicalHeaderKey(name)
		if _, dup := w.AllowedHeaders[canon]; dup {
			return nil, Invalid(f, "header %s is given twice", canon)
		}
		w.AllowedHeaders[canon] = value
	}
	if len(in.AllowedIPs) > maxInboundIPs {
		return nil, Invalid("allowed_ips", "at most %d addresses and ranges", maxInboundIPs)
	}
	for i, s := range in.AllowedIPs {
		p, err := parseIPRange(s)
		if err != nil {
			return nil, Invalid(fmt.Sprintf("allowed_ips[%d]", i), "%q is neither an IP address nor a CIDR range (203.0.113.0/24, 2001:db8::/32)", s)
		}
		if str := p.String(); !slices.Contains(w.AllowedIPs, str) {
			w.AllowedIPs = append(w.AllowedIPs, str)
		}
	}
	if len(in.CustomFields) > maxCustomFields {
		return nil, Invalid("custom_fields", "at most %d custom fields", maxCustomFields)
	}
	seen := map[string]bool{}
	for i, cf := range in.CustomFields {
		f := fmt.Sprintf("custom_fields[%d]", i)
		key, name := strings.TrimSpace(cf.Key), strings.TrimSpace(cf.Name)
		if !fieldName.MatchString(key) || reserved[key] || key == inbound.ParamPayload {
			return nil, Invalid(f+".key", "%q cannot be a custom field: a letter or _ then up to 63 letters, digits or _, not a standard field", cf.Key)
		}
		if seen[key] {
			return nil, Invalid(f+".key", "custom field %q is given twice", key)
		}
		seen[key] = true
		if name == "" {
			name = key
		}
		if len(name) > 100 {
			return nil, Invalid(f+".name", "a name is at most 100 characters")
		}
		w.CustomFields = append(w.CustomFields, CustomField{Key: key, Name: name})
	}
	return w, nil
}

// parseIPRange reads an IP address (a one-address range) or a CIDR range;
// IPv4-mapped IPv6 addresses count as IPv4.
func parseIPRange(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// newInboundKeys returns a new api key (48 hex characters) and secret key
// (64 hex characters: a 256-bit AES key).
func newInboundKeys() (apiKey, secretKey string) {
	return hex.EncodeToString(randomBytes(24)), hex.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return b
}

// withURL sets w's URL.
func withURL(w *InboundWebhook) *InboundWebhook {
	w.URL = "/hooks/" + w.ID
	return w
}

// CreateInbound creates an inbound webhook with new keys.
func (e *Engine) CreateInbound(ctx context.Context, in InboundInput) (*InboundWebhook, error) {
	w, err := e.checkInbound(ctx, in)
	if err != nil {
		return nil, err
	}
	w.ID = NewID("inb")
	w.APIKey, w.SecretKey = newInboundKeys()
	w.CreatedAt = e.now()
	w.UpdatedAt = w.CreatedAt
	if err := e.st.InsertInbound(ctx, w); err != nil {
		return nil, fmt.Errorf("create inbound webhook: %w", err)
	}
	return withURL(w), nil
}

// ListInbound returns every inbound webhook, newest first.
func (e *Engine) ListInbound(ctx context.Context) ([]InboundWebhook, error) {
	list, err := e.st.ListInbound(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		withURL(&list[i])
	}
	return list, nil
}

// GetInbound returns an inbound webhook.
func (e *Engine) GetInbound(ctx context.Context, id string) (*InboundWebhook, error) {
	w, err := e.st.GetInbound(ctx, id)
	if err != nil {
		return nil, err
	}
	return withURL(w), nil
}

// UpdateInbound replaces an inbound webhook's settings; its keys stay.
func (e *Engine) UpdateInbound(ctx context.Context, id string, in InboundInput) (*InboundWebhook, error) {
	w, err := e.checkInbound(ctx, in)
	if err != nil {
		return nil, err
	}
	var out *InboundWebhook
	err = e.st.InTx(ctx, func(ctx context.Context, tx Tx) error {
		old, err := tx.GetInbound(ctx, id)
		if err != nil {
			return err
		}
		w.ID, w.APIKey, w.SecretKey, w.CreatedAt, w.UpdatedAt = old.ID, old.APIKey, old.SecretKey, old.CreatedAt, e.now()
		out = w
		return tx.UpdateInbound(ctx, w)
	})
	if err != nil {
		return nil, err
	}
	return withURL(out), nil
}

// DeleteInbound deletes an inbound webhook and its activity.
func (e *Engine) DeleteInbound(ctx context.Context, id string) error {
	return e.st.DeleteInbound(ctx, id)
}

// RotateInboundKeys gives an inbound webhook a new api key and a new
// secret key; the old ones stop working at once.
func (e *Engine) RotateInboundKeys(ctx context.Context, id string) (*InboundWebhook, error) {
	var out *InboundWebhook
	err := e.st.InTx(ctx, func(ctx context.Context, tx Tx) error {
		w, err := tx.GetInbound(ctx, id)
		if err != nil {
			return err
		}
		w.APIKey, w.SecretKey = newInboundKeys()
		w.UpdatedAt = e.now()
		out = w
		return tx.UpdateInbound(ctx, w)
	})
	if err != nil {
		return nil, err
	}
	return withURL(out), nil
}

// InboundActivity returns an inbound webhook's totals, its hourly buckets
// from since on and its last refusals with their reasons.
func (e *Engine) InboundActivity(ctx context.Context, id string, since time.Time) (*InboundActivity, error) {
	if _, err := e.st.GetInbound(ctx, id); err != nil {
		return nil, err
	}
	return e.st.GetInboundActivity(ctx, id, since)
}

// ReceiveInbound handles a call to inbound webhook id: it checks the
// method, the client's IP, the required headers, the key (or the secure
// way's payload) and the data, then creates or updates the contact,
// subscribes it to (or unsubscribes it from) the list and records the
// signup or unsubscribe event with data inbound_webhook_id (through
// Ingest, so that scenarios and subscriptions react), and counts the
// call. A refused call returns a *RefusedError and writes nothing but its
// count and reason. ErrNotFound when there is no such webhook.
func (e *Engine) ReceiveInbound(ctx context.Context, id string, req InboundRequest) (*InboundResult, error) {
	w, err := e.st.GetInbound(ctx, id)
	if err != nil {
		return nil, err
	}
	in, refusal := checkCall(w, &req)
	if refusal == nil {
		var res *InboundResult
		res, refusal, err = e.acceptInbound(ctx, w, in)
		if err != nil {
			return nil, fmt.Errorf("inbound webhook %s: %w", id, err)
		}
		if refusal == nil {
			return res, nil
		}
	}
	call := &InboundCall{WebhookID: w.ID, At: e.now(), Refusal: InboundRefusal{ID: NewID("irf"), Code: refusal.Code,
		Reason: refusal.reason(), Method: truncate(req.Method, 16), RemoteIP: req.RemoteIP.String()}}
	call.Refusal.At = call.At
	if err := e.st.RecordInboundCall(ctx, call); err != nil {
		e.log.Warn("count a refused inbound call", "inbound_webhook", w.ID, "err", err)
	}
	return nil, refusal
}

// checkCall applies w's rules to a call and returns the event to record,
// or why the call is refused.
func checkCall(w *InboundWebhook, req *InboundRequest) (*EventInput, *RefusedError) {
	if !slices.Contains(w.AllowedMethods, req.Method) {
		return nil, &RefusedError{Code: RefusedMethod, Allowed: w.AllowedMethods, Message: fmt.Sprintf("method %s is not allowed; allowed: %s",
			truncate(req.Method, 16), strings.Join(w.AllowedMethods, ", "))}
	}
	if len(w.AllowedIPs) > 0 && !ipAllowed(w.AllowedIPs, req.RemoteIP) {
		return nil, &RefusedError{Code: RefusedIP, Message: fmt.Sprintf("calls from %s are not allowed", req.RemoteIP)}
	}
	for _, name := range slices.Sorted(maps.Keys(w.AllowedHeaders)) {
		if !headerAllowed(req.Headers.Values(name), w.AllowedHeaders[name]) {
			return nil, &RefusedError{Code: RefusedHeader, Field: name,
				Message: fmt.Sprintf("header %s is missing or has a value that is not allowed", name)}
		}
	}
	p, err := inbound.Collect(req.Query, req.ContentType, req.Body)
	if err != nil {
		return nil, payloadRefusal(err)
	}
	custom := make([]string, len(w.CustomFields))
	for i, cf := range w.CustomFields {
		custom[i] = cf.Key
	}
	var c *inbound.Contact
	apiKey := p.APIKey
	if p.Payload == "" {
		// The quick way: the key first, so that a caller without it
		// learns nothing about the fields.
		if r := checkKey(w, apiKey, true); r != nil {
			return nil, r
		}
		if c, _, err = inbound.Decode(p, w.SecretKey, custom); err != nil {
			return nil, payloadRefusal(err)
		}
	} else {
		// The secure way: a payload that decrypts to valid data under
		// the secret key stands for the key; an api-key, when given,
		// must be right too.
		var inner string
		if c, inner, err = inbound.Decode(p, w.SecretKey, custom); err != nil {
			return nil, payloadRefusal(err)
		}
		if inner != "" && apiKey != "" && inner != apiKey {
			return nil, &RefusedError{Code: RefusedPayload, Field: inbound.ParamAPIKey, Message: "api-key is given twice with different values"}
		}
		if r := checkKey(w, cmp.Or(apiKey, inner), false); r != nil {
			return nil, r
		}
	}
	in := &EventInput{Type: EventSignup, Email: c.Email, ListID: w.ListID,
		Contact: &ContactInput{Email: c.Email, Firstname: c.Firstname, Lastname: c.Lastname},
		Data:    map[string]any{"inbound_webhook_id": w.ID}}
	if len(c.Fields) > 0 {
		in.Contact.Fields = c.Fields
	}
	if w.Action == InboundUnsubscribe {
		in.Type = EventUnsubscribe
	}
	if err := validateEvent(in); err != nil {
		return nil, payloadRefusal(err)
	}
	return in, nil
}

// checkKey compares the api-key given with w's in constant time; a
// missing key is refused only when required.
func checkKey(w *InboundWebhook, given string, required bool) *RefusedError {
	if given == "" && !required {
		return nil
	}
	if given == "" {
		return &RefusedError{Code: RefusedKey, Field: inbound.ParamAPIKey, Message: "the api-key parameter is missing"}
	}
	a, b := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(w.APIKey))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return &RefusedError{Code: RefusedKey, Field: inbound.ParamAPIKey, Message: "the api-key is wrong"}
	}
	return nil
}

// payloadRefusal turns a decoding or validation error into a bad_payload
// refusal.
func payloadRefusal(err error) *RefusedError {
	var (
		ie  *inbound.Error
		inv *InvalidError
	)
	switch {
	case errors.As(err, &ie):
		return &RefusedError{Code: RefusedPayload, Field: ie.Field, Message: ie.Message, Detail: ie.Detail}
	case errors.As(err, &inv):
		return &RefusedError{Code: RefusedPayload, Field: strings.TrimPrefix(inv.Field, "contact."), Message: inv.Message}
	}
	return &RefusedError{Code: RefusedPayload, Message: err.Error()}
}

// ipAllowed reports whether addr falls in one of the ranges.
func ipAllowed(ranges []string, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, s := range ranges {
		if p, err := parseIPRange(s); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// headerAllowed reports whether one of the values is want, comparing in
// constant time (required header values often act as shared secrets).
func headerAllowed(values []string, want string) bool {
	ok := 0
	for _, v := range values {
		ok |= subtle.ConstantTimeCompare([]byte(strings.TrimSpace(v)), []byte(want))
	}
	return ok == 1
}

// acceptInbound records an accepted call through Ingest (the contact,
// the subscription, the event, the runs it starts and whatever else
// ingestion does) and counts it in the same transaction.
func (e *Engine) acceptInbound(ctx context.Context, w *InboundWebhook, in *EventInput) (*InboundResult, *RefusedError, error) {
	results, err := e.ingest(ctx, []EventInput{*in}, func(ctx context.Context, tx Tx, results []IngestResult) error {
		if results[0].Err != nil {
			return nil // refused: counted by the caller as a refusal
		}
		return tx.RecordInboundCall(ctx, &InboundCall{WebhookID: w.ID, At: e.now(), Accepted: true})
	})
	if err != nil {
		return nil, nil, err
	}
	if err := results[0].Err; err != nil {
		return nil, payloadRefusal(err), nil
	}
	res := &InboundResult{Status: "subscribed", EventID: results[0].EventID, ContactID: results[0].ContactID}
	if in.Type == EventUnsubscribe {
		res.Status = "unsubscribed"
	}
	return res, nil, nil
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
