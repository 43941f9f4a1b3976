package engine

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
)

// fieldName is what a custom field, date or node-visible name may be called.
var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// reserved names cannot be custom fields: they are the contact's own.
var reserved = map[string]bool{"id": true, "email": true, "firstname": true, "lastname": true,
	"timezone": true, "dates": true, "groups": true, "fields": true, "type": true}

// NormalizeEmail checks an email address and returns it trimmed.
func NormalizeEmail(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Invalid(field, "email is required")
	}
	if len(s) > 254 {
		return "", Invalid(field, "email is longer than 254 characters")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", Invalid(field, "%q is not a valid email address", s)
	}
	return s, nil
}

// EmailKey is the form of an email under which contacts are unique: emails
// differing only in case are one contact.
func EmailKey(email string) string { return strings.ToLower(email) }

// validateContactInput checks everything but the email; prefix names the
// input's place in the request ("contact.", "events[3].contact.").
func validateContactInput(prefix string, in *ContactInput) error {
	if in.Firstname != nil && len(*in.Firstname) > 200 {
		return Invalid(prefix+"firstname", "is longer than 200 characters")
	}
	if in.Lastname != nil && len(*in.Lastname) > 200 {
		return Invalid(prefix+"lastname", "is longer than 200 characters")
	}
	if len(in.Fields) > 200 {
		return Invalid(prefix+"fields", "at most 200 custom fields")
	}
	for k, v := range in.Fields {
		f := prefix + "fields." + k
		if !fieldName.MatchString(k) {
			return Invalid(f, "a field name is a letter or _ then up to 63 letters, digits or _")
		}
		if reserved[k] {
			return Invalid(f, "%q is a standard contact field, not a custom one", k)
		}
		switch x := v.(type) {
		case nil, bool, float64, int, int64:
		case string:
			if len(x) > 4096 {
				return Invalid(f, "is longer than 4096 characters")
			}
		default:
			return Invalid(f, "must be a string, number, boolean or null")
		}
	}
	for k, v := range in.Dates {
		f := prefix + "dates." + k
		if !fieldName.MatchString(k) {
			return Invalid(f, "a date name is a letter or _ then up to 63 letters, digits or _")
		}
		if v == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return Invalid(f, "%q is not a date (YYYY-MM-DD)", v)
		}
	}
	for i, g := range in.Groups {
		if g = strings.TrimSpace(g); g == "" || len(g) > 100 {
			return Invalid(fmt.Sprintf("%sgroups[%d]", prefix, i), "a group is 1 to 100 characters")
		}
	}
	if in.Timezone != nil && *in.Timezone != "" {
		if _, err := time.LoadLocation(*in.Timezone); err != nil {
			return Invalid(prefix+"timezone", "%q is not an IANA time zone", *in.Timezone)
		}
	}
	return nil
}

// applyContactInput writes in onto c and returns the names of the fields
// that changed and the groups that were added. replace clears what in
// leaves out.
func applyContactInput(c *Contact, in *ContactInput, replace bool) (changed, added []string) {
	setStr := func(name string, dst *string, v *string) {
		nv := ""
		if v != nil {
			nv = *v
		} else if !replace {
			return
		}
		if *dst != nv {
			*dst = nv
			changed = append(changed, name)
		}
	}
	if in.Email != "" && in.Email != c.Email {
		c.Email = in.Email
		changed = append(changed, "email")
	}
	setStr("firstname", &c.Firstname, in.Firstname)
	setStr("lastname", &c.Lastname, in.Lastname)
	setStr("timezone", &c.Timezone, in.Timezone)
	if c.Fields == nil {
		c.Fields = map[string]any{}
	}
	if replace {
		for k := range c.Fields {
			if _, ok := in.Fields[k]; !ok {
				delete(c.Fields, k)
				changed = append(changed, k)
			}
		}
	}
	for k, v := range in.Fields {
		if old, ok := c.Fields[k]; !ok || fmt.Sprint(old) != fmt.Sprint(v) {
			c.Fields[k] = v
			changed = append(changed, k)
		}
	}
	if c.Dates == nil {
		c.Dates = map[string]string{}
	}
	if replace {
		for k := range c.Dates {
			if _, ok := in.Dates[k]; !ok {
				delete(c.Dates, k)
				changed = append(changed, "dates."+k)
			}
		}
	}
	for k, v := range in.Dates {
		if c.Dates[k] != v {
			if v == "" {
				delete(c.Dates, k)
			} else {
				c.Dates[k] = v
			}
			changed = append(changed, "dates."+k)
		}
	}
	if in.Groups != nil || replace {
		if replace {
			var kept []string
			for _, g := range c.Groups {
				if slices.Contains(in.Groups, g) {
					kept = append(kept, g)
				}
			}
			if len(kept) != len(c.Groups) {
				changed = append(changed, "groups")
			}
			c.Groups = kept
		}
		for _, g := range in.Groups {
			g = strings.TrimSpace(g)
			if !slices.Contains(c.Groups, g) {
				c.Groups = append(c.Groups, g)
				added = append(added, g)
			}
		}
		if len(added) > 0 && !slices.Contains(changed, "groups") {
			changed = append(changed, "groups")
		}
	}
	if in.ConsentGivenAt != nil && (c.ConsentGivenAt == nil || !c.ConsentGivenAt.Equal(*in.ConsentGivenAt)) {
		t := in.ConsentGivenAt.UTC()
		c.ConsentGivenAt = &t
		changed = append(changed, "consent_given_at")
	}
	if in.ConsentExpiresAt != nil && (c.ConsentExpiresAt == nil || !c.ConsentExpiresAt.Equal(*in.ConsentExpiresAt)) {
		t := in.ConsentExpiresAt.UTC()
		c.ConsentExpiresAt = &t
		changed = append(changed, "consent_expires_at")
	}
	if c.Groups == nil {
		c.Groups = []string{}
	}
	return changed, added
}

// CreateList creates a list.
func (e *Engine) CreateList(ctx context.Context, name string) (*List, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, Invalid("name", "a list name is 1 to 200 characters")
	}
	l := &List{ID: NewID("lst"), Name: name, CreatedAt: e.now()}
	if err := e.st.CreateList(ctx, l); err != nil {
		return nil, fmt.Errorf("create list: %w", err)
	}
	return l, nil
}

// GetList returns a list.
func (e *Engine) GetList(ctx context.Context, id string) (*List, error) { return e.st.GetList(ctx, id) }

// Lists returns every list.
func (e *Engine) Lists(ctx context.Context) ([]List, error) { return e.st.ListLists(ctx) }

// CreateContact creates a contact; ErrConflict when the email exists.
func (e *Engine) CreateContact(ctx context.Context, in ContactInput) (*Contact, error) {
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return nil, err
	}
	in.Email = email
	if err := validateContactInput("", &in); err != nil {
		return nil, err
	}
	now := e.now()
	c := &Contact{ID: NewID("ctc"), CreatedAt: now, UpdatedAt: now}
	applyContactInput(c, &in, true)
	var out *Contact
	err = e.inTx(ctx, func(ctx context.Context, tx Tx, w *work) error {
		ok, err := tx.InsertContact(ctx, c)
		if err != nil {
			return err
		}
		if !ok {
			return &ConflictError{Message: fmt.Sprintf("a contact with email %s exists", email)}
		}
		out = c
		if err := e.publishCreated(ctx, tx, w, c, now); err != nil {
			return err
		}
		return e.recordEvents(ctx, tx, w, changeEvents(c, nil, c.Groups, nil, now), c)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetContact returns a contact by id.
func (e *Engine) GetContact(ctx context.Context, id string) (*Contact, error) {
	return e.st.GetContact(ctx, id)
}

// FindContact returns a contact by email (case-insensitive).
func (e *Engine) FindContact(ctx context.Context, email string) (*Contact, error) {
	return e.st.GetContactByEmail(ctx, strings.TrimSpace(email))
}

// UpdateContact changes a contact: replace (PUT) or merge (PATCH). Changed
// fields emit a contact_updated event, added groups group_added.
func (e *Engine) UpdateContact(ctx context.Context, id string, in ContactInput, replace bool) (*Contact, error) {
	if in.Email != "" || replace {
		email, err := NormalizeEmail("email", in.Email)
		if err != nil {
			return nil, err
		}
		in.Email = email
	}
	if err := validateContactInput("", &in); err != nil {
		return nil, err
	}
	var out *Contact
	err := e.inTx(ctx, func(ctx context.Context, tx Tx, w *work) error {
		locked, err := tx.LockContacts(ctx, []string{id})
		if err != nil {
			return err
		}
		if len(locked) == 0 {
			return fmt.Errorf("contact %s: %w", id, ErrNotFound)
		}
		c := locked[0]
		if in.Email != "" && !strings.EqualFold(in.Email, c.Email) {
			if other, err := tx.GetContactByEmail(ctx, in.Email); err == nil && other.ID != c.ID {
				return &ConflictError{Message: fmt.Sprintf("a contact with email %s exists", in.Email)}
			}
		}
		changed, added := applyContactInput(c, &in, replace)
		out = c
		if len(changed) == 0 {
			return nil
		}
		c.UpdatedAt = e.now()
		if err := tx.UpdateContact(ctx, c); err != nil {
			return err
		}
		return e.recordEvents(ctx, tx, w, changeEvents(c, changed, added, nil, c.UpdatedAt), c)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// changeEvents are the events a contact change records: contact_updated
// with the changed fields, group_added per added group, group_removed per
// removed group.
func changeEvents(c *Contact, changed, added, removed []string, at time.Time) []*Event {
	var evs []*Event
	if len(changed) > 0 {
		fields := make([]any, len(changed))
		for i, f := range changed {
			fields[i] = f
		}
		evs = append(evs, &Event{ID: NewID("evt"), Type: EventContactUpdated, ContactID: c.ID,
			Data: map[string]any{"fields": fields}, OccurredAt: at})
	}
	for _, g := range added {
		evs = append(evs, &Event{ID: NewID("evt"), Type: EventGroupAdded, ContactID: c.ID,
			Data: map[string]any{"group": g}, OccurredAt: at})
	}
	for _, g := range removed {
		evs = append(evs, &Event{ID: NewID("evt"), Type: EventGroupRemoved, ContactID: c.ID,
			Data: map[string]any{"group": g}, OccurredAt: at})
	}
	return evs
}
