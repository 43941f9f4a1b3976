package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/webhook"
	"github.com/sluicehq/sluice/nodes"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// runImport imports body and fails the test on an error.
func runImport(t *testing.T, e *engine.Engine, format, listID, body string) *engine.Import {
	t.Helper()
	imp, err := e.Import(context.Background(), engine.ImportInput{Format: format, ListID: listID, Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return imp
}

// contactOf finds a contact by email and fails the test when it is missing.
func contactOf(t *testing.T, e *engine.Engine, email string) *engine.Contact {
	t.Helper()
	c, err := e.FindContact(context.Background(), email)
	if err != nil {
		t.Fatalf("contact %s: %v", email, err)
	}
	return c
}

// countEvents counts the stored events of a type.
func countEvents(t *testing.T, st *storage.Store, typ string) int {
	t.Helper()
	n, err := st.DB().NewSelect().TableExpr("events").Where("type = ?", typ).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

var ignoreImportTimes = cmpopts.IgnoreFields(engine.ImportSummary{}, "ID", "CreatedAt", "UpdatedAt", "FinishedAt")

// TestImportCSV: the columns become the contact's fields and groups, bad
// rows are refused with their line and column while the others are
// imported, a duplicate email merges, and the import is recorded.
func TestImportCSV(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e, _ := newEngine(t, st, nil)
		csv := "\uFEFFEmail, firstname ,lastname,timezone,groups,c3,plan\n" + // line 1: a BOM, any case, spaces
			"ada@example.org,Ada,Lovelace,Europe/London,vip|beta,pro,\n" + // 2
			"\"grace@example.org\",\"Grace, Rear Admiral\",Hopper,,\"ops; navy\",,gold\n" + // 3
			"not-an-email,X,,,,,\n" + // 4
			"tz@example.org,T,,Mars/Olympus,,,\n" + // 5
			"short@example.org,S\n" + // 6
			"\n" + // 7: blank, skipped
			"quote@example.org,a\"b,,,,,\n" + // 8: a bare quote
			"\"multi@example.org\",\"two\nlines\",,,,,\n" + // 9-10
			"ada@example.org,,Byron,,news,,\n" + // 11: merged into ada
			"latin@example.org,\xe9lodie,,,,,\n" // 12: not UTF-8
		imp := runImport(t, e, engine.ImportCSV, "", csv)
		want := &engine.Import{ImportSummary: engine.ImportSummary{Format: "csv", Status: engine.ImportCompleted,
			Rows: 9, Accepted: 4, Refused: 5},
			Errors: []engine.ImportRowError{
				{Line: 4, Email: "not-an-email", Field: "email", Message: `"not-an-email" is not a valid email address`},
				{Line: 5, Email: "tz@example.org", Field: "timezone", Message: `"Mars/Olympus" is not an IANA time zone`},
				{Line: 6, Email: "short@example.org", Message: "the row has 2 fields; the header has 7"},
				{Line: 8, Message: "not valid CSV (line 8, column 20): bare \" in non-quoted-field"},
				{Line: 12, Email: "latin@example.org", Field: "firstname", Message: "is not UTF-8 text (save the file as UTF-8)"},
			}}
		if diff := cmp.Diff(want, imp, ignoreImportTimes); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		stored, err := e.GetImport(context.Background(), imp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(imp, stored, cmpopts.EquateApproxTime(time.Microsecond)); diff != "" {
			t.Errorf("stored import (-returned +stored):\n%s", diff)
		}

		ada := contactOf(t, e, "ada@example.org")
		if ada.Firstname != "Ada" || ada.Lastname != "Byron" || ada.Timezone != "Europe/London" ||
			!cmp.Equal(ada.Groups, []string{"vip", "beta", "news"}) || !cmp.Equal(ada.Fields, map[string]any{"c3": "pro"}) {
			t.Errorf("ada (an empty cell keeps the value, a later row merges): %+v", ada)
		}
		grace := contactOf(t, e, "grace@example.org")
		if grace.Firstname != "Grace, Rear Admiral" || !cmp.Equal(grace.Groups, []string{"ops", "navy"}) ||
			!cmp.Equal(grace.Fields, map[string]any{"plan": "gold"}) {
			t.Errorf("grace: %+v", grace)
		}
		if multi := contactOf(t, e, "multi@example.org"); multi.Firstname != "two\nlines" {
			t.Errorf("a quoted field over two lines: %q", multi.Firstname)
		}
		if n := countEvents(t, st, engine.EventContactImported); n != 4 {
			t.Errorf("%d contact_imported events, want 4 (one per accepted row)", n)
		}
		var data string
		err = st.DB().NewSelect().TableExpr("events").Column("data").Where("type = ?", engine.EventContactImported).
			Limit(1).Scan(context.Background(), &data)
		if err != nil || !strings.Contains(data, imp.ID) {
			t.Errorf("an event's data %s (%v) does not name the import", data, err)
		}
	})
}

// TestImportNDJSON: one ContactInput per line, typed values kept; blank
// lines are skipped but counted, bad lines are refused with their line.
func TestImportNDJSON(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e, _ := newEngine(t, st, nil)
		lines := []string{
			`{"email":"ada@example.org","firstname":"Ada","fields":{"score":42,"pro":true},"groups":["vip"],"dates":{"birthday":"1815-12-10"}}`,
			``,
			`{"email":"bob@example.org","colour":"red"}`,
			`{"email":"bob@example.org","groups":"vip"}`,
			`{"email":"bob@example.org",`,
			`{"email":"bob@example.org"} {"email":"x@example.org"}`,
			`{"email":"cy@example.org","fields":{"type":"x"}}`,
			`{"email":"ada@example.org","lastname":"Lovelace","groups":["beta"]}`,
			`{"email":"nul@example.org","firstname":"a\u0000b"}`,
			`{"email":"last@example.org"}`, // no newline at the end
		}
		imp := runImport(t, e, engine.ImportNDJSON, "", strings.Join(lines, "\n"))
		want := &engine.Import{ImportSummary: engine.ImportSummary{Format: "ndjson", Status: engine.ImportCompleted,
			Rows: 9, Accepted: 3, Refused: 6},
			Errors: []engine.ImportRowError{
				{Line: 3, Email: "bob@example.org", Field: "colour", Message: "is not a known field"},
				{Line: 4, Email: "bob@example.org", Field: "groups", Message: "must be an array, not string"},
				{Line: 5, Message: "malformed JSON: the line ends in the middle of a value"},
				{Line: 6, Email: "bob@example.org", Message: "unexpected data after the JSON object"},
				{Line: 7, Email: "cy@example.org", Field: "fields.type", Message: `"type" is a standard contact field, not a custom one`},
				{Line: 9, Email: "nul@example.org", Field: "firstname", Message: "holds a NUL character"},
			}}
		if diff := cmp.Diff(want, imp, ignoreImportTimes); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		ada := contactOf(t, e, "ada@example.org")
		if ada.Lastname != "Lovelace" || !cmp.Equal(ada.Groups, []string{"vip", "beta"}) ||
			!cmp.Equal(ada.Fields, map[string]any{"score": 42.0, "pro": true}) || ada.Dates["birthday"] != "1815-12-10" {
			t.Errorf("ada: %+v", ada)
		}
		contactOf(t, e, "last@example.org")
	})
}

// TestImportToListStartsScenarios: with a list, every imported contact
// signs up to it, so a signup scenario on that list runs once per contact
// (a contact imported twice still runs once).
func TestImportToListStartsScenarios(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := setup(t, st)
		ctx := context.Background()
		l, err := b.e.CreateList(ctx, "Newsletter")
		if err != nil {
			t.Fatal(err)
		}
		h := newHook(t)
		sc := b.activate(t, engine.Graph{Nodes: []engine.Node{node("t1", "signup", `{"list_id":"`+l.ID+`"}`), hookNode("w1", h.URL)},
			Edges: []engine.Edge{{From: "t1", To: "w1"}}}, false)

		if _, err := b.e.Import(ctx, engine.ImportInput{Format: engine.ImportCSV, ListID: "lst_nope", Body: strings.NewReader("email\n")}); !isInvalid(err, "list_id") {
			t.Errorf("unknown list: %v, want an invalid list_id", err)
		}
		if list, err := b.e.Imports(ctx, 10); err != nil || len(list) != 0 {
			t.Errorf("an import refused before it started is recorded: %+v, %v", list, err)
		}

		var csv strings.Builder
		csv.WriteString("email,firstname\n")
		for i := range 30 {
			fmt.Fprintf(&csv, "c%d@example.org,C%d\n", i, i)
		}
		csv.WriteString("c0@example.org,Again\n")
		imp := runImport(t, b.e, engine.ImportCSV, l.ID, csv.String())
		if imp.Accepted != 31 || imp.ListID != l.ID {
			t.Fatalf("report: %+v", imp)
		}
		waitFor(t, "30 webhooks", func() bool { return b.stats(t, sc.ID)["w1"].Accepted == 30 })
		if got := b.stats(t, sc.ID)["t1"].Reached; got != 30 {
			t.Errorf("the trigger reached %d contacts, want 30", got)
		}
		if n := h.n.Load(); n != 30 {
			t.Errorf("%d webhooks, want 30", n)
		}
		if n := countEvents(t, st, engine.EventSignup); n != 31 {
			t.Errorf("%d signup events, want 31", n)
		}
	})
}

// TestImportChunks: a file of 2,500 rows is ingested in three chunks;
// the progress recorded after each chunk is visible while the import runs,
// and refused rows keep their line across chunks.
func TestImportChunks(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e, _ := newEngine(t, st, nil)
		ctx := context.Background()
		var csv strings.Builder
		csv.WriteString("email,c1\n")
		for i := range 2500 {
			if i%1000 == 999 {
				csv.WriteString("broken,x\n") // line i+2
				continue
			}
			fmt.Fprintf(&csv, "u%d@example.org,%d\n", i, i)
		}
		var seen []*engine.Import
		imp, err := e.Import(ctx, engine.ImportInput{Format: engine.ImportCSV, Body: strings.NewReader(csv.String()),
			OnProgress: func(p engine.Import) {
				stored, err := e.GetImport(ctx, p.ID) // what GET /api/v1/contacts/imports/{id} shows meanwhile
				if err != nil {
					t.Error(err)
					return
				}
				seen = append(seen, stored)
			}})
		if err != nil {
			t.Fatal(err)
		}
		var progress [][4]int64
		for _, s := range seen {
			if s.Status != engine.ImportRunning {
				t.Errorf("status during the import: %s", s.Status)
			}
			progress = append(progress, [4]int64{s.Rows, s.Accepted, s.Refused, int64(len(s.Errors))})
		}
		want := [][4]int64{{1000, 999, 1, 1}, {2000, 1998, 2, 2}, {2500, 2498, 2, 2}}
		if diff := cmp.Diff(want, progress); diff != "" {
			t.Errorf("progress after each chunk (rows, accepted, refused, errors) (-want +got):\n%s", diff)
		}
		if imp.Status != engine.ImportCompleted || imp.Rows != 2500 || imp.Accepted != 2498 {
			t.Errorf("report: %+v", imp.ImportSummary)
		}
		lines := []int64{imp.Errors[0].Line, imp.Errors[1].Line}
		if diff := cmp.Diff([]int64{1001, 2001}, lines); diff != "" {
			t.Errorf("lines of the refused rows (-want +got):\n%s", diff)
		}
		if c := contactOf(t, e, "u2499@example.org"); c.Fields["c1"] != "2499" {
			t.Errorf("last contact: %+v", c)
		}
	})
}

// TestImportErrorsCapped: every refused row is counted, the first
// MaxImportErrors are kept.
func TestImportErrorsCapped(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, storagetest.OpenSQLite(t), nil)
	body := strings.Repeat(`{"email":"nope"}`+"\n", engine.MaxImportErrors+200) + `{"email":"ok@example.org"}`
	imp := runImport(t, e, engine.ImportNDJSON, "", body)
	if imp.Refused != engine.MaxImportErrors+200 || imp.Accepted != 1 || len(imp.Errors) != engine.MaxImportErrors || !imp.ErrorsTruncated {
		t.Errorf("report: %+v, %d errors, truncated %v", imp.ImportSummary, len(imp.Errors), imp.ErrorsTruncated)
	}
	stored, err := e.GetImport(context.Background(), imp.ID)
	if err != nil || !stored.ErrorsTruncated || len(stored.Errors) != engine.MaxImportErrors {
		t.Errorf("stored: %d errors, truncated %v, %v", len(stored.Errors), stored.ErrorsTruncated, err)
	}
	if last := imp.Errors[len(imp.Errors)-1]; last.Line != engine.MaxImportErrors {
		t.Errorf("last kept error on line %d, want %d", last.Line, engine.MaxImportErrors)
	}
}

// failingReader yields body, then err.
type failingReader struct {
	body io.Reader
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	if errors.Is(err, io.EOF) {
		return n, r.err
	}
	return n, err
}

// TestImportBodyFails: a body that breaks off fails the import; the chunks
// committed before stay, the one being read is dropped, and the import
// says so.
func TestImportBodyFails(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e, _ := newEngine(t, st, nil)
		ctx := context.Background()
		var ndjson strings.Builder
		for i := range 1500 {
			fmt.Fprintf(&ndjson, `{"email":"u%d@example.org"}`+"\n", i)
		}
		cut := errors.New("connection reset by peer")
		imp, err := e.Import(ctx, engine.ImportInput{Format: engine.ImportNDJSON,
			Body: &failingReader{body: strings.NewReader(ndjson.String()), err: cut}})
		if !errors.Is(err, cut) || imp == nil {
			t.Fatalf("Import: %v, %v; want the body's error and the import", imp, err)
		}
		stored, err := e.GetImport(ctx, imp.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := engine.ImportSummary{ID: imp.ID, Format: "ndjson", Status: engine.ImportFailed, Rows: 1000, Accepted: 1000,
			Failure: "stopped reading the body: connection reset by peer"}
		if diff := cmp.Diff(want, stored.ImportSummary, cmpopts.IgnoreFields(engine.ImportSummary{}, "CreatedAt", "UpdatedAt", "FinishedAt")); diff != "" ||
			stored.FinishedAt == nil || !stored.UpdatedAt.Equal(*stored.FinishedAt) {
			t.Errorf("stored import (-want +got):\n%s", diff)
		}
		contactOf(t, e, "u999@example.org")
		if _, err := e.FindContact(ctx, "u1000@example.org"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("a contact of the chunk being read: %v, want not found", err)
		}
	})
}

// TestImportRefusedWhole: what refuses a whole import does so before it is
// recorded.
func TestImportRefusedWhole(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, storagetest.OpenSQLite(t), nil)
	for _, tc := range []struct {
		name, format, body, field, msg string
	}{
		{"unknown format", "xml", "<a/>", "format", `not "xml"`},
		{"empty CSV", "csv", "", "header", "the file is empty"},
		{"no email column", "csv", "firstname,c3\nA,x\n", "header", "no email column"},
		{"unnamed column", "csv", "email,,c3\n", "header", "column 2 has no name"},
		{"bad column name", "csv", "email,my field\n", "header", `column 2 "my field": a custom field name is`},
		{"reserved column", "csv", "id,email\n", "header", `column 1 "id": that is a contact's own field`},
		{"duplicate column", "csv", "email,c3,EMAIL\n", "header", `columns 1 and 3 are both "email"`},
		{"malformed header", "csv", "email,\"c3\n", "header", "not valid CSV"},
	} {
		_, err := e.Import(context.Background(), engine.ImportInput{Format: tc.format, Body: strings.NewReader(tc.body)})
		var inv *engine.InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field || !strings.Contains(inv.Message, tc.msg) {
			t.Errorf("%s: %v, want an invalid %s saying %q", tc.name, err, tc.field, tc.msg)
		}
	}
	if list, err := e.Imports(context.Background(), 10); err != nil || len(list) != 0 {
		t.Errorf("imports recorded: %+v, %v", list, err)
	}
}

// TestImportLongLines: an NDJSON line over MaxImportLine is refused and
// the next one read; a CSV record that big (an unclosed quote) stops the
// import, whose memory stays bounded.
func TestImportLongLines(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, storagetest.OpenSQLite(t), nil)
	huge := strings.Repeat("x", engine.MaxImportLine+10)
	imp := runImport(t, e, engine.ImportNDJSON, "", `{"email":"a@example.org","firstname":"`+huge+`"}`+"\n"+`{"email":"b@example.org"}`+"\n")
	if imp.Accepted != 1 || imp.Refused != 1 || imp.Errors[0].Line != 1 || !strings.Contains(imp.Errors[0].Message, "longer than") {
		t.Errorf("NDJSON: %+v %+v", imp.ImportSummary, imp.Errors)
	}

	rest := strings.Repeat("b@example.org,B\n", 3*engine.MaxImportLine/16) // read as one quoted field
	imp, err := e.Import(context.Background(), engine.ImportInput{Format: engine.ImportCSV,
		Body: strings.NewReader("email,firstname\na@example.org,\"A\n" + rest)})
	var inv *engine.InvalidError
	if !errors.As(err, &inv) || imp == nil || imp.Status != engine.ImportFailed || !strings.Contains(imp.Failure, "longer than") {
		t.Errorf("CSV: %+v, %v", imp, err)
	}
}

func isInvalid(err error, field string) bool {
	var inv *engine.InvalidError
	return errors.As(err, &inv) && inv.Field == field
}

// TestImportStale: an import waiting for its file shows a heartbeat, so it
// is not taken for dead; one whose process stopped (no sign of life for
// four heartbeats) is marked failed with a reason, and only that one.
func TestImportStale(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
		reg := engine.NewRegistry()
		nodes.Register(reg)
		e, err := engine.New(engine.Config{Store: st, Queue: &memQueue{}, Sender: &fakeSender{sent: map[string]int{}},
			Registry: reg, Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NewSecret: webhook.NewSecret,
			ImportHeartbeat: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		body, upload := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := e.Import(ctx, engine.ImportInput{Format: engine.ImportNDJSON, Body: body})
			done <- err
		}()
		var live engine.ImportSummary
		waitFor(t, "the import to start", func() bool {
			list, err := e.Imports(ctx, 10)
			if err == nil && len(list) == 1 {
				live = list[0]
			}
			return err == nil && len(list) == 1
		})
		clk.Add(time.Minute)
		waitFor(t, "a heartbeat", func() bool {
			imp, err := e.GetImport(ctx, live.ID)
			return err == nil && imp.UpdatedAt.Equal(clk.Now())
		})
		old := clk.Now().Add(-time.Hour)
		dead := &engine.Import{ImportSummary: engine.ImportSummary{ID: "imp_dead", Format: engine.ImportCSV,
			Status: engine.ImportRunning, Rows: 1000, Accepted: 1000, CreatedAt: old, UpdatedAt: old}, Errors: []engine.ImportRowError{}}
		if err := st.InsertImport(ctx, dead); err != nil {
			t.Fatal(err)
		}
		if n, err := e.FailStaleImports(ctx); err != nil || n != 1 {
			t.Fatalf("FailStaleImports = %d, %v; want the dead one", n, err)
		}
		got, err := e.GetImport(ctx, dead.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != engine.ImportFailed || !strings.Contains(got.Failure, "interrupted") || got.FinishedAt == nil ||
			got.Accepted != 1000 {
			t.Errorf("the dead import: %+v", got.ImportSummary)
		}
		if _, err := io.WriteString(upload, `{"email":"late@example.org"}`+"\n"); err != nil {
			t.Fatal(err)
		}
		upload.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got, err := e.GetImport(ctx, live.ID); err != nil || got.Status != engine.ImportCompleted || got.Accepted != 1 {
			t.Errorf("the live import: %+v, %v; want completed with 1 contact", got, err)
		}
	})
}
