package storage

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"testing"
)

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

// Waiting INSERTs into distinct tables become one statement: the WITHs of
// each, and all but the last, in the WITH of the last. Anything it cannot
// read or may not merge stays apart.
// pieces makes a waiting statement of each of sqls.
func pieces(sqls ...string) []piece {
	ps := make([]piece, len(sqls))
	for i, s := range sqls {
		ps[i] = piece{sql: s}
	}
	return ps
}

func TestMergeWrites(t *testing.T) {
	p := pieces
	q := func(sql string) []piece { return []piece{{sql: sql, sink: func([]driver.Value) error { return nil }}} }
	for _, tc := range []struct {
		name string
		in   []piece
		want string // "" when not merged
	}{
		{"two inserts", p(`INSERT INTO "events" AS "event" ("id") VALUES ('e(1')`, `INSERT INTO "runs" ("id") VALUES ('r')`),
			`WITH sluice_w0 AS (INSERT INTO "events" AS "event" ("id") VALUES ('e(1')) INSERT INTO "runs" ("id") VALUES ('r')`},
		{"a WITH is hoisted", p(`INSERT INTO a VALUES (')''(')`, `WITH totals AS (INSERT INTO b VALUES (1) ON CONFLICT (k) DO UPDATE SET n = b.n + excluded.n) INSERT INTO c VALUES (2)`),
			`WITH sluice_w0 AS (INSERT INTO a VALUES (')''(')), totals AS (INSERT INTO b VALUES (1) ON CONFLICT (k) DO UPDATE SET n = b.n + excluded.n) INSERT INTO c VALUES (2)`},
		{"a WITH in front", p(`WITH t AS (INSERT INTO b VALUES ("x)")) INSERT INTO c VALUES (2)`, `INSERT INTO d VALUES (3)`),
			`WITH t AS (INSERT INTO b VALUES ("x)")), sluice_w0 AS (INSERT INTO c VALUES (2)) INSERT INTO d VALUES (3)`},
		{"one statement", p(`INSERT INTO a VALUES (1)`), ""},
		{"a table twice", p(`INSERT INTO "a" VALUES (1)`, `INSERT INTO a VALUES (2)`), ""},
		{"a table twice through a WITH", p(`INSERT INTO a VALUES (1)`, `WITH t AS (INSERT INTO a VALUES (2)) INSERT INTO b VALUES (1)`), ""},
		{"an update last", p(`INSERT INTO a VALUES (1)`, `UPDATE b SET n = 1`), ""},
		{"an update first", p(`UPDATE "contacts" AS "c" SET "firstname" = 'Ada' WHERE ("c"."id" = 'x')`, `INSERT INTO "events" VALUES (1)`),
			`WITH sluice_w0 AS (UPDATE "contacts" AS "c" SET "firstname" = 'Ada' WHERE ("c"."id" = 'x')) INSERT INTO "events" VALUES (1)`},
		{"an update reading another table", p(`UPDATE a SET n = 1 WHERE id IN (SELECT id FROM b)`, `INSERT INTO c VALUES (1)`), ""},
		{"an update that may read another table", p(`UPDATE a SET note = 'from me' WHERE id = 1`, `INSERT INTO c VALUES (1)`), ""},
		{"an update returning", p(`UPDATE a SET n = 1 RETURNING id`, `INSERT INTO c VALUES (1)`), ""},
		{"an update and an insert of one table", p(`UPDATE "a" SET n = 1 WHERE id = 1`, `INSERT INTO a VALUES (2)`), ""},
		{"returning", p(`INSERT INTO a VALUES (1)`, `INSERT INTO b VALUES (1) RETURNING id`), ""},
		{"recursive", p(`INSERT INTO a VALUES (1)`, `WITH RECURSIVE t AS (SELECT 1) INSERT INTO b SELECT * FROM t`), ""},
		{"a select in the WITH", p(`INSERT INTO a VALUES (1)`, `WITH t AS (SELECT 1) INSERT INTO b SELECT * FROM t`), ""},
		{"unclosed", p(`INSERT INTO a VALUES (1)`, `WITH t AS (INSERT INTO b VALUES ('1)) INSERT INTO c VALUES (1)`), ""},
		{"a name twice", p(`WITH t AS (INSERT INTO a VALUES (1)) INSERT INTO b VALUES (1)`, `WITH t AS (INSERT INTO c VALUES (1)) INSERT INTO d VALUES (1)`), ""},
		{"a copy", []piece{{sql: `INSERT INTO a VALUES (1)`}, {sql: `COPY b FROM STDIN`, rows: []byte("1\n")}}, ""},
		{"a query first", append(q(`WITH f AS (
  UPDATE "steps" SET s = 'done' RETURNING id
), c AS (UPDATE runs SET s = 1 WHERE id IN (SELECT id FROM f) RETURNING id)
SELECT id FROM c`), p(`INSERT INTO d VALUES (1)`, `WITH totals AS (INSERT INTO e VALUES (1)) INSERT INTO g VALUES (2)`)...),
			`WITH f AS (UPDATE "steps" SET s = 'done' RETURNING id), c AS (UPDATE runs SET s = 1 WHERE id IN (SELECT id FROM f) RETURNING id), sluice_w1 AS (INSERT INTO d VALUES (1)), totals AS (INSERT INTO e VALUES (1)), sluice_w2 AS (INSERT INTO g VALUES (2)) SELECT id FROM c`},
		{"a query alone", q(`WITH f AS (UPDATE steps SET s = 1 RETURNING id) SELECT id FROM f`), `WITH f AS (UPDATE steps SET s = 1 RETURNING id) SELECT id FROM f`},
		{"a query writing a table twice", append(q(`WITH f AS (UPDATE steps SET s = 1 RETURNING id) SELECT id FROM f`), p(`INSERT INTO steps VALUES (1)`)...), ""},
		{"a query writing a table twice in its own WITH", append(q(`WITH f AS (UPDATE steps SET s = 1 RETURNING id), n AS (INSERT INTO "steps" VALUES (2)) SELECT id FROM f`), p(`INSERT INTO d VALUES (1)`)...),
			`WITH f AS (UPDATE steps SET s = 1 RETURNING id), n AS (INSERT INTO "steps" VALUES (2)), sluice_w1 AS (INSERT INTO d VALUES (1)) SELECT id FROM f`},
		{"a query reading in its WITH", q(`WITH f AS (SELECT 1) SELECT * FROM f`), ""},
		{"a query not last", append(p(`INSERT INTO a VALUES (1)`), q(`WITH f AS (UPDATE steps SET s = 1 RETURNING id) SELECT id FROM f`)...), ""},
	} {
		got, ok := mergeWrites(tc.in)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("%s: mergeWrites = %q, %v\nwant %q", tc.name, got, ok, tc.want)
		}
	}
}

// TestMergeTail: statements that cannot merge stay in front, as they are,
// and those after them merge when they can.
func TestMergeTail(t *testing.T) {
	p := pieces
	for _, tc := range []struct {
		name  string
		in    []piece
		first int
		want  string // "" when not merged
	}{
		{"one in front", p(`UPDATE a SET n = 1 WHERE id IN (SELECT id FROM b)`, `INSERT INTO c VALUES (1)`, `INSERT INTO d VALUES (1)`),
			1, `WITH sluice_w0 AS (INSERT INTO c VALUES (1)) INSERT INTO d VALUES (1)`},
		{"two in front", p(`UPDATE c SET n = 1`, `DELETE FROM d`, `INSERT INTO d VALUES (1)`, `INSERT INTO e VALUES (1)`),
			2, `WITH sluice_w0 AS (INSERT INTO d VALUES (1)) INSERT INTO e VALUES (1)`},
		{"nothing to merge after", p(`DELETE FROM d`, `INSERT INTO d VALUES (1)`), 0, ""},
		{"a table twice after", p(`DELETE FROM d`, `INSERT INTO d VALUES (1)`, `INSERT INTO d VALUES (2)`), 0, ""},
		{"a copy in front", []piece{{sql: `COPY b FROM STDIN`, rows: []byte("1\n")}, {sql: `INSERT INTO c VALUES (1)`}, {sql: `INSERT INTO d VALUES (1)`}}, 0, ""},
	} {
		first, got, ok := mergeTail(tc.in)
		if ok != (tc.want != "") || got != tc.want || len(first) != tc.first {
			t.Errorf("%s: mergeTail = %d first, %q, %v\nwant %d, %q", tc.name, len(first), got, ok, tc.first, tc.want)
		}
	}
}

// BenchmarkMergeWrites merges what a busy batch's commit sends: three
// multi-row INSERTs of 64 rows and the counters' WITH.
func BenchmarkMergeWrites(b *testing.B) {
	rows := func(table string, n int) string {
		var q strings.Builder
		q.WriteString(`INSERT INTO "` + table + `" AS "x" ("id", "data", "at") VALUES `)
		for i := range n {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, `('id_%d', '{"firstname":"Ann (%d)","note":"it''s"}', '2026-12-06 10:00:00+00:00')`, i, i)
		}
		return q.String()
	}
	ps := []piece{{sql: rows("events", 64)}, {sql: rows("deliveries", 64)}, {sql: rows("attempts", 64)},
		{sql: `WITH totals AS (INSERT INTO step_stats VALUES ('scn', 1, 'w1', 3, 64, 64, 0, 0, 64) ON CONFLICT (scenario_id, version, node_id, shard) DO UPDATE SET reached = step_stats.reached + excluded.reached) INSERT INTO step_stats_hourly VALUES ('scn', 1, 'w1', '2026-12-06 10:00:00+00:00', 3, 64, 64, 0, 64)`}}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := mergeWrites(ps); !ok {
			b.Fatal("not merged")
		}
	}
}
