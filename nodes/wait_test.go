package nodes

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // tests must not depend on the host's zoneinfo

	"github.com/sluicehq/sluice/engine"
)

func TestParseWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30m", 30 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"2d", 48 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"1.5h", 90 * time.Minute, ""},
		{"365d", 365 * 24 * time.Hour, ""},
		{"8760h", 365 * 24 * time.Hour, ""},
		{"364d24h", 365 * 24 * time.Hour, ""},
		{"364d25h", 0, "at most 365 days"},
		{"366d", 0, "at most 365 days"},
		{"0d", 0, "longer than 0"},
		{"0", 0, "longer than 0"},
		{"", 0, "must not be empty"},
		{"d", 0, "such as 30m"},
		{"2 d", 0, "such as 30m"},
		{"1w", 0, "such as 30m"},
		{"-5m", 0, "such as 30m"},
		{"1d+5m", 0, "such as 30m"},
	}
	for _, tt := range tests {
		got, err := parseWait(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseWait(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseWait(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestWaitExecute(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	paris := contact() // Europe/Paris: UTC+1 in November; now is Monday 13:56:40 there
	noTZ := contact()
	noTZ.Timezone = ""
	badTZ := contact()
	badTZ.Timezone = "Mars/Olympus"
	tests := []struct {
		name string
		cfg  string
		c    *engine.Contact
		want time.Time
	}{
		{"duration", `{"duration":"1h30m"}`, paris, now.Add(90 * time.Minute)},
		{"days", `{"duration":"2d"}`, paris, now.Add(48 * time.Hour)},
		{"days and hours", `{"duration":"1d12h"}`, paris, now.Add(36 * time.Hour)},

		{"date in zone", `{"until_field":"renewal","offset_days":-1,"time":"09:00"}`, paris, utc("2026-11-30T08:00:00Z")},
		{"date default time", `{"until_field":"renewal"}`, paris, utc("2026-11-30T23:00:00Z")},
		{"date after", `{"until_field":"renewal","offset_days":31,"time":"23:59"}`, noTZ, utc("2027-01-01T23:59:00Z")},
		{"date passed", `{"until_field":"birthday","time":"09:00"}`, paris, now},
		{"date today passed", `{"until_field":"renewal","offset_days":-8,"time":"13:00"}`, paris, now},
		{"date today ahead", `{"until_field":"renewal","offset_days":-8,"time":"14:00"}`, paris, utc("2026-11-23T13:00:00Z")},
		{"date unknown zone", `{"until_field":"renewal","time":"09:00"}`, badTZ, utc("2026-12-01T09:00:00Z")},

		{"window next week", `{"weekdays":["mon"],"from":"09:00","to":"11:00"}`, paris, utc("2026-11-30T08:00:00Z")},
		{"window tomorrow", `{"weekdays":["tue","wed"],"from":"09:00","to":"11:00"}`, paris, utc("2026-11-24T08:00:00Z")},
		{"window later today", `{"weekdays":["mon"],"from":"14:00","to":"15:00"}`, paris, utc("2026-11-23T13:00:00Z")},
		{"window open now", `{"from":"13:00","to":"14:00"}`, paris, now},
		{"window closing edge", `{"from":"12:00","to":"13:56"}`, paris, utc("2026-11-24T11:00:00Z")},
		{"window UTC", `{"weekdays":["mon"],"from":"12:00","to":"13:00"}`, noTZ, now},
		{"window weekend", `{"weekdays":["sat","sun"],"from":"10:00","to":"12:00"}`, noTZ, utc("2026-11-28T10:00:00Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := execute(t, "wait", tt.cfg, tt.c, event(), now)
			if err != nil {
				t.Fatal(err)
			}
			if !res.NextAt.Equal(tt.want) || res.Label != "" || res.End || res.Changes != nil {
				t.Errorf("Execute = %+v, want NextAt %v", res, tt.want)
			}
		})
	}
}

func TestWaitExecuteErrors(t *testing.T) {
	t.Parallel()
	for cfg, want := range map[string]string{
		`{"until_field":"anniversary"}`: `the contact has no date "anniversary"`,
		`{"until_field":"bad"}`:         `the contact's bad "soon" is not a date`,
	} {
		if _, err := execute(t, "wait", cfg, contact(), event(), now); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("wait %s error = %v, want %q", cfg, err, want)
		}
	}
}
