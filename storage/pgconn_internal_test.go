package storage

import "testing"

// Only statements that return no rows may be held back: pgdriver reads
// the rows of the first statement of a message that has any.
func TestMayWait(t *testing.T) {
	for q, want := range map[string]bool{
		`INSERT INTO "events" ("id") VALUES ('e')`:                                    true,
		`WITH totals AS (INSERT INTO step_stats VALUES (1)) INSERT INTO x VALUES (2)`: true,
		`UPDATE steps SET status = 'done'`:                                            true,
		`INSERT INTO "steps" ("id") VALUES ('s') RETURNING "id"`:                      false,
		`update runs set status = 'completed' returning id`:                           false,
		`SELECT 1`:   false,
		`  select 1`: false,
	} {
		if got := mayWait(q); got != want {
			t.Errorf("mayWait(%q) = %v, want %v", q, got, want)
		}
	}
}
