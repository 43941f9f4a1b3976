package nodes

import (
	"time"

	"github.com/sluicehq/sluice/engine"
)

// dateTrigger is a compiled date_reached or consent_expiring trigger. The
// engine's DateScheduler fires it from the contacts' dates; no event
// matches it.
type dateTrigger struct{ schedule engine.Schedule }

// Matches reports false: scheduled triggers are not started by events.
func (*dateTrigger) Matches(*engine.Event, *engine.Contact) bool { return false }

// Schedule says when the trigger fires.
func (t *dateTrigger) Schedule() engine.Schedule { return t.schedule }

func dateReachedType() *nodeType {
	return newType(engine.Spec{
		Type: "date_reached", Kind: engine.KindTrigger, Label: "Date is reached",
		Description: "Starts on a date of the contact (a birthday, a renewal…), every year or once, " +
			"at a time of day in the contact's time zone (the trigger's when the contact has none). " +
			"A 29 February falls on 28 February in other years; a time skipped by a clock change runs an hour later.",
		EventTypes: []string{engine.EventDateReached},
	}, schema{props: []prop{
		stringProp("field", "Date", "The contact's date, e.g. birthday or renewal_date.").
			with("pattern", identifier.String()),
		stringProp("recurrence", "Repeat", "yearly: on that day every year; once: on that date only.").
			with("enum", []string{"yearly", "once"}, "default", "yearly"),
		{name: "offset_days", schema: map[string]any{
			"type": "integer", "title": "Days before (-) or after (+)", "minimum": -365, "maximum": 365, "default": 0,
			"description": "Move the date: -7 is a week before, 1 the day after.",
		}},
		stringProp("time", "At", "Time of day (HH:MM), in the contact's time zone.").
			with("pattern", clockPattern.String(), "default", "09:00"),
		stringProp("timezone", "Time zone", "For contacts without a time zone, e.g. Europe/Paris. Defaults to UTC.").
			with("default", "UTC"),
	}, required: []string{"field"}}, func(c *config) engine.Compiled {
		r := &engine.DateRule{Field: c.required("field"), Yearly: true, Location: time.UTC}
		if r.Field != "" && !identifier.MatchString(r.Field) {
			c.add(path("field"), "%q is not a field name (letters, digits and _ only)", r.Field)
		}
		if rec, ok := c.str("recurrence"); ok {
			switch rec {
			case "yearly":
			case "once":
				r.Yearly = false
			default:
				c.add(path("recurrence"), "must be yearly or once")
			}
		}
		r.OffsetDays, _ = c.integer("offset_days", -365, 365)
		r.Minute = c.clock("time", 9*60)
		if tz, ok := c.str("timezone"); ok && tz != "" {
			loc, err := time.LoadLocation(tz)
			if err != nil || tz == "Local" {
				c.add(path("timezone"), "%q is not a time zone name such as Europe/Paris", tz)
			} else {
				r.Location = loc
			}
		}
		return &dateTrigger{schedule: engine.Schedule{Date: r}}
	})
}

func consentExpiringType() *nodeType {
	return newType(engine.Spec{
		Type: "consent_expiring", Kind: engine.KindTrigger, Label: "Consent is expiring",
		Description: "Starts a number of days before a contact's consent expires (once per expiry date).",
		EventTypes:  []string{engine.EventConsentExpiring},
	}, schema{props: []prop{
		{name: "days_before", schema: map[string]any{
			"type": "integer", "title": "Days before", "minimum": 0, "maximum": 365,
			"description": "How many days before the consent expires to start (0: when it expires).",
		}},
	}, required: []string{"days_before"}}, func(c *config) engine.Compiled {
		if !c.has("days_before") {
			c.add(path("days_before"), "is required")
		}
		n, _ := c.integer("days_before", 0, 365)
		return &dateTrigger{schedule: engine.Schedule{Consent: &engine.ConsentRule{DaysBefore: n}}}
	})
}
