package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sluicehq/sluice/engine"
)

// importFile posts an import through app.Test and returns the answer.
func (b *bundle) importFile(t *testing.T, query, contentType, body string) response {
	t.Helper()
	return b.do(t, request{method: "POST", path: "/api/v1/contacts/import" + query, body: body,
		header: map[string]string{"Content-Type": contentType}})
}

// decodeReport decodes an import's report, failing on another status.
func decodeReport(t *testing.T, res response) importReport {
	t.Helper()
	if res.status != 202 {
		t.Fatalf("import: %d %s", res.status, res.body)
	}
	var r importReport
	if err := json.Unmarshal(res.body, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// rowsOf generates an import body of n contacts as it is read, without
// holding it in memory: CSV rows after a header, or NDJSON lines.
type rowsOf struct {
	n, i   int
	ndjson bool
	buf    []byte
}

func (r *rowsOf) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) && r.i <= r.n {
		switch {
		case r.i == 0 && !r.ndjson:
			r.buf = append(r.buf, "email,firstname\n"...)
		case r.i == 0:
		case r.ndjson:
			r.buf = fmt.Appendf(r.buf, `{"email":"u%05d@example.org","firstname":"U"}`+"\n", r.i)
		default:
			r.buf = fmt.Appendf(r.buf, "u%05d@example.org,U\n", r.i)
		}
		r.i++
	}
	if len(r.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// streamImport posts an import over a real connection with a chunked body
// (no Content-Length) and returns the answer.
func (b *bundle) streamImport(t *testing.T, query, contentType string, body io.Reader) answer {
	t.Helper()
	req, err := http.NewRequest("POST", b.listen(t)+"/api/v1/contacts/import"+query, io.NopCloser(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", contentType)
	client := &http.Client{Timeout: 60 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, body: raw}
	conform(t, b.document(t), "POST", "/api/v1/contacts/import", out)
	return answer{response: out, closes: res.Close}
}

// TestImportContacts: CSV and NDJSON files import contacts and answer the
// report (checked against the OpenAPI document by every call), which
// GET /api/v1/contacts/imports/{id} and the list show too.
func TestImportContacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	csv := "email,firstname,lastname,groups,c3\n" +
		"ada@example.org,Ada,Lovelace,vip|beta,pro\n" +
		"not-an-email,X,,,\n" +
		"grace@example.org,Grace,Hopper,ops;navy,\n"
	rep := decodeReport(t, b.importFile(t, "", "text/csv; charset=utf-8", csv))
	want := importReport{Import: engine.Import{ImportSummary: engine.ImportSummary{Format: "csv", Status: engine.ImportCompleted,
		Rows: 3, Accepted: 2, Refused: 1},
		Errors: []engine.ImportRowError{{Line: 3, Email: "not-an-email", Field: "email", Message: `"not-an-email" is not a valid email address`}}}}
	ignore := cmpopts.IgnoreFields(engine.ImportSummary{}, "ID", "CreatedAt", "UpdatedAt", "FinishedAt")
	if diff := cmp.Diff(want, rep, ignore, cmpopts.IgnoreFields(importReport{}, "ImportID")); diff != "" {
		t.Errorf("CSV report (-want +got):\n%s", diff)
	}
	if rep.ImportID != rep.ID || !strings.HasPrefix(rep.ID, "imp_") || rep.FinishedAt == nil {
		t.Errorf("ids and times: %+v", rep)
	}
	var ada engine.Contact
	b.call(t, 200, "GET", "/api/v1/contacts?email=ada@example.org", nil, &ada)
	if ada.Lastname != "Lovelace" || !cmp.Equal(ada.Groups, []string{"vip", "beta"}) || ada.Fields["c3"] != "pro" {
		t.Errorf("ada: %+v", ada)
	}

	ndjson := `{"email":"ada@example.org","fields":{"score":7}}` + "\n" + `{"email":"linus@example.org","dates":{"birthday":"1969-12-28"}}` + "\n"
	rep2 := decodeReport(t, b.importFile(t, "", "application/x-ndjson", ndjson))
	if rep2.Format != "ndjson" || rep2.Accepted != 2 || rep2.Refused != 0 || len(rep2.Errors) != 0 {
		t.Errorf("NDJSON report: %+v", rep2)
	}
	b.call(t, 200, "GET", "/api/v1/contacts?email=ada@example.org", nil, &ada)
	if ada.Fields["score"] != 7.0 || ada.Fields["c3"] != "pro" {
		t.Errorf("ada after the NDJSON import: %+v", ada.Fields)
	}

	var got engine.Import
	b.call(t, 200, "GET", "/api/v1/contacts/imports/"+rep.ID, nil, &got)
	if diff := cmp.Diff(rep.Import, got, storedTime()); diff != "" {
		t.Errorf("GET the import (-report +got):\n%s", diff)
	}
	var alias engine.Import
	b.call(t, 200, "GET", "/api/v1/contacts/import/"+rep.ID, nil, &alias)
	if alias.ID != rep.ID {
		t.Errorf("GET /contacts/import/{id}: %+v", alias)
	}
	var page importsPage
	b.call(t, 200, "GET", "/api/v1/contacts/imports?limit=5", nil, &page)
	if len(page.Imports) != 2 || page.Imports[0].ID != rep2.ID || page.Imports[1].ID != rep.ID {
		t.Errorf("imports, newest first: %+v", page.Imports)
	}
}

// TestImportRefused: what is wrong with a whole import is refused before
// anything is read or written.
func TestImportRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name, query, contentType, encoding, body string
		status                                   int
		code, field, msg                         string
	}{
		{"unknown list", "?list_id=lst_nope", "text/csv", "", "email\na@example.org\n", 422, "validation_failed", "list_id", `no list "lst_nope"`},
		{"JSON", "", "application/json", "", `{"email":"a@example.org"}`, 415, "unsupported_media_type", "", "text/csv or application/x-ndjson"},
		{"no type", "", "", "", "email\n", 415, "unsupported_media_type", "", "not \"\""},
		{"Latin-1", "", "text/csv; charset=iso-8859-1", "", "email\n", 415, "unsupported_media_type", "", "UTF-8"},
		{"gzip", "", "text/csv", "gzip", "email\n", 415, "unsupported_media_type", "", "uncompressed"},
		{"no email column", "", "text/csv", "", "name\nAda\n", 422, "validation_failed", "header", "no email column"},
		{"empty", "", "text/csv", "", "", 422, "validation_failed", "header", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": tc.contentType}
			if tc.encoding != "" {
				h["Content-Encoding"] = tc.encoding
			}
			res := b.do(t, request{method: "POST", path: "/api/v1/contacts/import" + tc.query, body: tc.body, header: h})
			if res.status != tc.status {
				t.Fatalf("%d %s", res.status, res.body)
			}
			e := apiError(t, res)
			if e.Code != tc.code || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("error %+v, want %s %s %q", e, tc.code, tc.field, tc.msg)
			}
		})
	}
	var page importsPage
	b.call(t, 200, "GET", "/api/v1/contacts/imports", nil, &page)
	if len(page.Imports) != 0 {
		t.Errorf("refused imports were recorded: %+v", page.Imports)
	}
	if res := b.do(t, request{method: "GET", path: "/api/v1/contacts/imports/imp_nope"}); res.status != 404 {
		t.Errorf("unknown import: %d %s", res.status, res.body)
	}
	if res := b.do(t, request{method: "GET", path: "/api/v1/contacts/imports?limit=0"}); res.status != 422 {
		t.Errorf("limit=0: %d %s", res.status, res.body)
	}
}

// TestImportToListStartsScenarios: importing to a list signs every contact
// up, so the list's signup scenario runs for each of them.
func TestImportToListStartsScenarios(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := receiver(t)
	listID := b.list(t, "Newsletter")
	sc := b.scenario(t, "Welcome", webhookGraph(listID, rc.URL+"/hook"))
	b.call(t, 200, "POST", "/api/v1/scenarios/"+sc.ID+"/activate", nil, nil)
	rep := decodeReport(t, b.importFile(t, "?list_id="+listID, "application/x-ndjson",
		`{"email":"a@example.org","fields":{"c3":"pro"}}`+"\n"+`{"email":"b@example.org"}`+"\n"+`{"email":"c@example.org"}`+"\n"))
	if rep.ListID != listID || rep.Accepted != 3 {
		t.Fatalf("report: %+v", rep)
	}
	if n := b.drain(t); n != 1 {
		t.Errorf("ran %d tasks, want 1 (the three steps of the import's chunk, enqueued together)", n)
	}
	var st engine.ScenarioStats
	b.call(t, 200, "GET", "/api/v1/scenarios/"+sc.ID+"/stats", nil, &st)
	if len(st.Steps) != 2 || st.Steps[0].Reached != 3 || st.Steps[1].Accepted != 3 {
		t.Errorf("stats: %+v", st.Steps)
	}
}

// TestImportStreamed: a chunked body (no Content-Length) of 2,500 rows,
// more than fits in BodyLimit, is read as it arrives, in three chunks.
func TestImportStreamed(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.BodyLimit = 4096 })
	for _, ndjson := range []bool{false, true} {
		ct := "text/csv"
		if ndjson {
			ct = "application/x-ndjson"
		}
		res := b.streamImport(t, "", ct, &rowsOf{n: 2500, ndjson: ndjson})
		rep := decodeReport(t, res.response)
		if rep.Status != engine.ImportCompleted || rep.Rows != 2500 || rep.Accepted != 2500 {
			t.Errorf("%s: %+v", ct, rep.ImportSummary)
		}
		if !res.closes {
			t.Errorf("%s: an import's connection is not closed after it", ct)
		}
	}
	var last engine.Contact
	b.call(t, 200, "GET", "/api/v1/contacts?email=u02500@example.org", nil, &last)
}

// TestImportLimit: an import over ImportLimit is a 413. Announced by its
// Content-Length, it is refused before anything is read; streamed, it
// stops at the limit and the chunks imported before stay.
func TestImportLimit(t *testing.T) {
	t.Parallel()
	const limit = 30_000 // the first 1,000 rows (21 bytes each) fit
	b := setup(t, func(c *Config) { c.ImportLimit = limit })

	res := b.oversized(t, "POST", "/api/v1/contacts/import", limit+1)
	if e := apiError(t, res); res.status != 413 || e.Message != "the request body is larger than 30000 bytes" {
		t.Errorf("announced: %d %+v", res.status, e)
	}
	var page importsPage
	b.call(t, 200, "GET", "/api/v1/contacts/imports", nil, &page)
	if len(page.Imports) != 0 {
		t.Errorf("an import refused from its headers was recorded: %+v", page.Imports)
	}

	streamed := b.streamImport(t, "", "text/csv", &rowsOf{n: 1600})
	res, e := streamed.response, apiError(t, streamed.response)
	if res.status != 413 || !strings.HasPrefix(e.Message, "the request body is larger than 30000 bytes; import imp_") ||
		!strings.Contains(e.Message, "the 1000 contacts imported before stay imported") {
		t.Fatalf("streamed: %d %+v", res.status, e)
	}
	b.call(t, 200, "GET", "/api/v1/contacts/imports", nil, &page)
	if len(page.Imports) != 1 {
		t.Fatalf("imports: %+v", page.Imports)
	}
	got := page.Imports[0]
	if got.Status != engine.ImportFailed || got.Accepted != 1000 || got.Failure != "stopped reading the body: the request body is larger than 30000 bytes" {
		t.Errorf("the failed import: %+v", got)
	}
	b.call(t, 200, "GET", "/api/v1/contacts?email=u01000@example.org", nil, nil)
	if res := b.do(t, request{method: "GET", path: "/api/v1/contacts?email=u01001@example.org"}); res.status != 404 {
		t.Errorf("a contact past the last committed chunk: %d", res.status)
	}
}

// slowBody hands out r a few bytes at a time, after pause each.
type slowBody struct {
	r     io.Reader
	pause time.Duration
}

func (s slowBody) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), 500)])
}

// TestImportOutlastsReadTimeout: an import may take longer than
// ReadTimeout while its body keeps coming; a body that stops coming for
// ReadTimeout ends it with a 408.
func TestImportOutlastsReadTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.ReadTimeout = 300 * time.Millisecond })
	start := time.Now()
	res := b.streamImport(t, "", "text/csv", slowBody{r: &rowsOf{n: 150}, pause: 100 * time.Millisecond})
	if rep := decodeReport(t, res.response); rep.Accepted != 150 || time.Since(start) < 2*300*time.Millisecond {
		t.Errorf("a steady import of %v: %+v", time.Since(start), rep.ImportSummary)
	}
	stalled := io.MultiReader(strings.NewReader("email\na@example.org\n"), slowBody{r: strings.NewReader("b@example.org\n"), pause: time.Second})
	res = b.streamImport(t, "", "text/csv", stalled)
	if e := apiError(t, res.response); res.status != 408 || !strings.HasPrefix(e.Message, "the request body did not arrive in time; import imp_") {
		t.Errorf("a stalled body: %d %+v", res.status, e)
	}
}

// TestImportDocumented: the OpenAPI document describes the import's two
// file types and its report, with examples.
func TestImportDocumented(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := New(Config{Engine: b.e, APIKey: "k", ImportLimit: -1}); err == nil {
		t.Error("New took a negative ImportLimit")
	}
	op := findOperation(b.document(t), "POST", "/api/v1/contacts/import")
	content := op["requestBody"].(map[string]any)["content"].(map[string]any)
	for _, mt := range []string{"text/csv", "application/x-ndjson"} {
		if ex, _ := content[mt].(map[string]any)["example"].(string); !strings.Contains(ex, "ada@example.org") {
			t.Errorf("no %s example: %v", mt, content[mt])
		}
	}
	ok := resolve(b.document(t), op["responses"].(map[string]any)["202"].(map[string]any))
	example := ok["content"].(map[string]any)["application/json"].(map[string]any)["example"]
	schema := ok["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	raw, err := json.Marshal(example)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if problems := fits(b.document(t), schema, v, "example"); len(problems) > 0 || !strings.Contains(string(raw), `"errors_truncated"`) {
		t.Errorf("the report example does not fit its schema: %v %s", problems, raw)
	}
	for _, code := range []string{"400", "408", "413", "415", "422"} {
		if _, ok := op["responses"].(map[string]any)[code]; !ok {
			t.Errorf("the import does not list %s", code)
		}
	}
}
