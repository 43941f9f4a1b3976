package nodes

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// maxWait is the longest duration a wait step accepts.
const maxWait = 365 * 24 * time.Hour

// weekdayNames are the weekdays of the time-window form, indexed by
// time.Weekday; weekdayOrder lists them as the form shows them.
var (
	weekdayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	weekdayOrder = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
)

// clockPattern is a time of day, "HH:MM" on 24 hours.
var clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

// daysPattern is a duration starting with a number of days ("2d", "1d12h").
var daysPattern = regexp.MustCompile(`^([0-9]{1,4})d(.*)$`)

// The three forms of wait, by the fields that select them.
var (
	durationFields = []string{"duration"}
	dateFields     = []string{"until_field", "offset_days", "time"}
	windowFields   = []string{"weekdays", "from", "to"}
)

// waitNode is a compiled wait step in one of three forms: a duration, a
// date of the contact (untilField), or a weekly time window (window).
type waitNode struct {
	duration time.Duration

	untilField string
	offsetDays int
	at         int // minutes after midnight

	window   bool
	weekdays [7]bool // by time.Weekday
	from, to int     // minutes after midnight, from < to
}

func waitType() *nodeType {
	clock := func(name, title, description string) prop {
		return stringProp(name, title, description).with("pattern", clockPattern.String())
	}
	return newType(engine.Spec{
		Type: "wait", Kind: engine.KindFlow, Label: "Wait",
		Description: "Pauses the contact for a while, until a date of theirs, or until a time window " +
			"(in the contact's time zone, UTC when unknown).",
	}, schema{props: []prop{
		stringProp("duration", "Wait for",
			"How long to wait: minutes (30m), hours (1h30m) or days (2d, 1d12h); at most 365 days.").
			with("pattern", `^([0-9]+d)?([0-9]+(\.[0-9]+)?(h|ms|m|s))*$`, "examples", []string{"30m", "1h30m", "2d"}),
		stringProp("until_field", "Until the date in",
			"A date field of the contact, e.g. birthday or renewal_date. If that moment has passed, the contact goes on at once.").
			with("pattern", identifier.String()),
		{name: "offset_days", schema: map[string]any{
			"type": "integer", "title": "Days before (-) or after (+)", "minimum": -365, "maximum": 365, "default": 0,
			"description": "Move the date: -1 is the day before, 2 two days after.",
		}},
		clock("time", "At", "Time of day on that date, in the contact's time zone (HH:MM).").with("default", "00:00"),
		{name: "weekdays", schema: map[string]any{
			"type": "array", "title": "On",
			"description": "Days of the week the window is open. Leave empty for every day.",
			"items":       map[string]any{"type": "string", "enum": weekdayOrder},
			"uniqueItems": true,
		}},
		clock("from", "From", "Start of the window, in the contact's time zone (HH:MM)."),
		clock("to", "To", "End of the window, in the contact's time zone (HH:MM); after the start."),
	}, extra: []keyword{{"oneOf", []map[string]any{
		{"title": "For a while", "required": []string{"duration"}},
		{"title": "Until a date of the contact", "required": []string{"until_field"}},
		{"title": "Until a time window", "required": []string{"from", "to"}},
	}}}}, compileWait)
}

func compileWait(c *config) engine.Compiled {
	n := &waitNode{}
	// The form is chosen by its key field (duration, until_field, or any
	// window field); fields of the other forms are problems.
	form := ""
	switch {
	case c.has("duration"):
		form = "duration"
	case c.has("until_field"):
		form = "until_field"
	default:
		for _, name := range windowFields {
			if c.has(name) {
				form = name
				break
			}
		}
		if form == "" && (c.has("offset_days") || c.has("time")) {
			form = "until_field"
		}
	}
	for _, f := range [][]string{durationFields, dateFields, windowFields} {
		if contains(f, form) {
			continue
		}
		for _, name := range f {
			if c.has(name) {
				c.add(path(name), "cannot be combined with %s", form)
			}
		}
	}
	if contains(windowFields, form) {
		form = "window"
	}
	switch form {
	case "duration":
		if s, ok := c.str("duration"); ok {
			d, err := parseWait(s)
			if err != nil {
				c.add(path("duration"), "%v", err)
			}
			n.duration = d
		}
	case "until_field":
		n.untilField = c.required("until_field")
		if n.untilField != "" && !identifier.MatchString(n.untilField) {
			c.add(path("until_field"), "%q is not a field name (letters, digits and _ only)", n.untilField)
		}
		n.offsetDays, _ = c.integer("offset_days", -365, 365)
		n.at = c.clock("time", 0)
	case "window":
		n.window = true
		days, _ := c.strList("weekdays", 7)
		for _, d := range days {
			k := indexOf(weekdayNames, strings.ToLower(d.value))
			switch {
			case k < 0:
				c.add(indexPath("weekdays", d.index), "must be one of %s", strings.Join(weekdayOrder, ", "))
			case n.weekdays[k]:
				c.add(indexPath("weekdays", d.index), "%q is listed twice", d.value)
			default:
				n.weekdays[k] = true
			}
		}
		if len(days) == 0 {
			n.weekdays = [7]bool{true, true, true, true, true, true, true}
		}
		for _, f := range []string{"from", "to"} {
			if !c.has(f) {
				c.add(path(f), "is required for a time window")
			}
		}
		n.from, n.to = c.clock("from", -1), c.clock("to", -1)
		if n.from >= 0 && n.to >= 0 && n.from >= n.to {
			c.add(path("to"), "must be after from")
		}
	default:
		c.add(path("duration"), "is required: enter a duration, or choose a date field or a time window")
	}
	return n
}

// clock reads an "HH:MM" field as minutes after midnight, or def when absent
// or invalid (a problem then).
func (c *config) clock(name string, def int) int {
	s, ok := c.str(name)
	if !ok {
		return def
	}
	m := clockPattern.FindStringSubmatch(s)
	if m == nil {
		c.add(path(name), "must be a time of day such as 09:00")
		return def
	}
	h, _ := strconv.Atoi(m[1])
	mins, _ := strconv.Atoi(m[2])
	return h*60 + mins
}

// parseWait parses a wait duration: a Go duration ("90m", "1h30m"),
// optionally after a number of days ("2d", "1d12h"). It must be more than 0
// and at most 365 days.
func parseWait(s string) (time.Duration, error) {
	var d time.Duration
	rest := s
	if m := daysPattern.FindStringSubmatch(s); m != nil {
		days, _ := strconv.Atoi(m[1])
		if days > 366 {
			return 0, fmt.Errorf("must be at most 365 days")
		}
		d = time.Duration(days) * 24 * time.Hour
		rest = m[2]
	}
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, fmt.Errorf("must be a duration such as 30m, 1h30m or 2d")
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("must be a duration such as 30m, 1h30m or 2d")
		}
		d += r
	}
	switch {
	case s == "":
		return 0, fmt.Errorf("must not be empty")
	case d <= 0:
		return 0, fmt.Errorf("must be longer than 0")
	case d > maxWait:
		return 0, fmt.Errorf("must be at most 365 days")
	}
	return d, nil
}

// Execute returns when the contact goes on: Now plus the duration, the
// contact's date, or the next opening of the window (Now when it is open or
// the date has passed).
func (n *waitNode) Execute(_ context.Context, x *engine.StepContext) (engine.Result, error) {
	switch {
	case n.duration > 0:
		return engine.Result{NextAt: x.Now.Add(n.duration)}, nil
	case n.untilField != "":
		at, err := n.untilDate(x.Contact, x.Now)
		if err != nil {
			return engine.Result{}, err
		}
		return engine.Result{NextAt: at}, nil
	default:
		return engine.Result{NextAt: n.nextWindow(contactLocation(x.Contact), x.Now)}, nil
	}
}

// untilDate returns the moment of the contact's date (moved by offsetDays,
// at the time of day) in their time zone, or now when it has passed.
func (n *waitNode) untilDate(c *engine.Contact, now time.Time) (time.Time, error) {
	var raw string
	if c != nil {
		raw = c.Dates[n.untilField]
	}
	if raw == "" {
		return time.Time{}, fmt.Errorf("wait: the contact has no date %q", n.untilField)
	}
	day, err := time.Parse(time.DateOnly, raw[:min(len(raw), len(time.DateOnly))])
	if err != nil {
		return time.Time{}, fmt.Errorf("wait: the contact's %s %q is not a date (YYYY-MM-DD)", n.untilField, raw)
	}
	at := time.Date(day.Year(), day.Month(), day.Day()+n.offsetDays, n.at/60, n.at%60, 0, 0, contactLocation(c))
	if !at.After(now) {
		return now, nil
	}
	return at.UTC(), nil
}

// nextWindow returns now when the window is open, else its next opening.
func (n *waitNode) nextWindow(loc *time.Location, now time.Time) time.Time {
	local := now.In(loc)
	for d := 0; d <= 7; d++ {
		day := time.Date(local.Year(), local.Month(), local.Day()+d, 0, 0, 0, 0, loc)
		if !n.weekdays[day.Weekday()] {
			continue
		}
		start := time.Date(day.Year(), day.Month(), day.Day(), n.from/60, n.from%60, 0, 0, loc)
		end := time.Date(day.Year(), day.Month(), day.Day(), n.to/60, n.to%60, 0, 0, loc)
		if now.Before(start) {
			return start.UTC()
		}
		if now.Before(end) {
			return now
		}
	}
	return now // unreachable: some weekday is always set
}

// contactLocation is the contact's time zone, UTC when unset or unknown.
func contactLocation(c *engine.Contact) *time.Location {
	if c == nil || c.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
