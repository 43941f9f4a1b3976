package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// importReport is the answer of POST /api/v1/contacts/import: the
// import's final report. import_id repeats id under the name API.md gives.
type importReport struct {
	engine.Import
	ImportID string `json:"import_id"`
}

// importsPage is the answer of GET /api/v1/contacts/imports.
type importsPage struct {
	Imports []engine.ImportSummary `json:"imports"`
}

// importRoutes are the contacts import routes (see routes.go for why they
// come before /contacts/:id).
func (s *server) importRoutes() []route {
	const p = Prefix
	return []route{
		{"POST", importPath, s.importContacts, false, opDoc{id: "importContacts", tag: "contacts",
			summary:     "Import contacts from a CSV or NDJSON file, streamed",
			description: importDescription,
			query: []queryParam{{name: "list_id", schema: rawSchema{"type": "string"},
				desc: "Sign every contact up to this list (a signup event each, so the list's signup scenarios start for them). 422 when there is no such list."}},
			bodyTypes: importBodyTypes(), status: 202, resp: importReport{}, example: importExample(),
			errs: []int{400, 408, 413, 415, 422}}},
		{"GET", p + "/contacts/imports", s.listImports, false, opDoc{id: "listImports", tag: "contacts",
			summary: "The latest imports with their progress (without their errors), newest first",
			query: []queryParam{{name: "limit", schema: rawSchema{"type": "integer", "minimum": 1, "maximum": maxLimit, "default": defaultLimit},
				desc: "How many imports."}},
			resp: importsPage{}, errs: []int{400, 422}}},
		{"GET", p + "/contacts/imports/:id", s.getImport, false, opDoc{id: "getImport", tag: "contacts",
			summary:     "One import: its progress (while it runs too) and its refused rows",
			description: "errors holds the first 1,000 refused rows in file order; errors_truncated says there were more (refused counts them all).",
			resp:        engine.Import{}, errs: []int{404}}},
		{"GET", p + "/contacts/import/:id", s.getImport, false, opDoc{id: "getImportAlias", tag: "contacts",
			summary: "Same as GET /api/v1/contacts/imports/{id} (the path API.md names)",
			resp:    engine.Import{}, errs: []int{404}}},
	}
}

const importDescription = "The body is read as it arrives (a chunked body is fine) and ingested 1,000 rows per transaction; " +
	"the answer, 202 with import_id and the import's report, comes once the whole file is read. " +
	"CSV (text/csv): a header row, then one contact per row. Columns: email (required), firstname, lastname, timezone, " +
	"groups (separated by | or ;); any other column is a custom field of that name (a letter or _, then letters, digits or _). " +
	"An empty cell leaves the contact's value as it is. " +
	"NDJSON (application/x-ndjson): one contact object per line, as POST /api/v1/contacts takes it. " +
	"A contact is created, or updated when its email exists (a file may name an email twice). " +
	"Without list_id each row records a contact_imported event; with it, a signup event on that list " +
	"(either way the event's data holds import_id). " +
	"A bad row is refused (errors: line, email, field, message) and the import goes on. " +
	"An unknown list_id or an unusable CSV header is a 422 before anything is imported. " +
	"A body over the import limit (256 MiB by default, SLUICE_IMPORT_LIMIT) is a 413, one that breaks off a 400 or 408: " +
	"the rows imported before stay imported, and GET /api/v1/contacts/imports/{id} shows how many."

// importBodyTypes are the files an import takes, with examples.
func importBodyTypes() []bodyType {
	return []bodyType{
		{mime: "text/csv", schema: rawSchema{"type": "string"},
			example: "email,firstname,lastname,groups,c3\nada@example.org,Ada,Lovelace,vip|beta,pro\ngrace@example.org,Grace,Hopper,,\n"},
		{mime: "application/x-ndjson", schema: rawSchema{"type": "string"},
			example: `{"email":"ada@example.org","firstname":"Ada","fields":{"c3":"pro"},"groups":["vip"]}` + "\n" +
				`{"email":"grace@example.org","lastname":"Hopper","dates":{"birthday":"1906-12-09"}}` + "\n"},
	}
}

// importExample is a report, for the OpenAPI document.
func importExample() importReport {
	created := time.Date(2026, 11, 23, 12, 56, 40, 0, time.UTC)
	finished := created.Add(41 * time.Second)
	return importReport{ImportID: "imp_06h0example", Import: engine.Import{
		ImportSummary: engine.ImportSummary{ID: "imp_06h0example", Format: engine.ImportCSV, ListID: "lst_06h0example",
			Status: engine.ImportCompleted, Rows: 100000, Accepted: 99998, Refused: 2, CreatedAt: created, UpdatedAt: finished,
			FinishedAt: &finished},
		Errors: []engine.ImportRowError{
			{Line: 1207, Email: "not-an-email", Field: "email", Message: `"not-an-email" is not a valid email address`},
			{Line: 50311, Email: "tz@example.org", Field: "timezone", Message: `"Mars/Olympus" is not an IANA time zone`},
		}}}
}

// importContacts answers POST /api/v1/contacts/import: streams a CSV or
// NDJSON body into contacts, chunk by chunk, then answers its report.
func (s *server) importContacts(c *fiber.Ctx) error {
	format, err := importFormat(c)
	if err != nil {
		return err
	}
	stream := c.Context().RequestBodyStream()
	if stream == nil { // no body, or one read already
		stream = bytes.NewReader(c.Request().Body())
	}
	body := &importBody{r: stream, conn: c.Context().Conn(), timeout: s.readTimeout, left: s.importLimit, limit: s.importLimit}
	imp, err := s.e.Import(c.UserContext(), engine.ImportInput{Format: format, ListID: c.Query("list_id"), Body: body})
	if err != nil {
		if imp == nil {
			return err // refused before it started
		}
		return s.importFailed(c, imp, err)
	}
	// 202 with import_id as API.md has it; the import is already done by
	// now, so the answer carries its report too.
	return c.Status(fiber.StatusAccepted).JSON(importReport{Import: *imp, ImportID: imp.ID})
}

// importFormat reads an import's format from its Content-Type; an
// unknown type, a charset other than UTF-8 or a compressed body is a 415.
func importFormat(c *fiber.Ctx) (string, error) {
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return "", unsupported("Content-Encoding %s is not supported on an import: send the file uncompressed", enc)
	}
	ct := c.Get(fiber.HeaderContentType)
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", unsupported("an import is text/csv or application/x-ndjson, not %q", ct)
	}
	if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return "", unsupported("an import is UTF-8 text, not %s", cs)
	}
	switch mt {
	case "text/csv":
		return engine.ImportCSV, nil
	case "application/x-ndjson", "application/ndjson":
		return engine.ImportNDJSON, nil
	}
	return "", unsupported("an import is text/csv or application/x-ndjson, not %q", mt)
}

// unsupported is a 415 about the request's Content-Type or Content-Encoding.
func unsupported(format string, args ...any) error {
	return &requestError{status: fiber.StatusUnsupportedMediaType, code: "unsupported_media_type",
		message: fmt.Sprintf(format, args...)}
}

// importFailed answers an import that stopped midway with the status its
// cause deserves, saying which import it was and what it kept.
func (s *server) importFailed(c *fiber.Ctx, imp *engine.Import, err error) error {
	status, body := s.classify(c, err)
	detail := errorDetail{Code: codeOf(status), Message: "the import failed"}
	if b, ok := body.(errorBody); ok {
		detail = b.Error
	}
	detail.Message = fmt.Sprintf("%s; import %s stopped: the %d contacts imported before stay imported (GET %s/contacts/imports/%s)",
		detail.Message, imp.ID, imp.Accepted, Prefix, imp.ID)
	return &requestError{status: status, code: detail.Code, field: detail.Field, message: detail.Message}
}

// listImports answers GET /api/v1/contacts/imports: the latest imports.
func (s *server) listImports(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	list, err := s.e.Imports(c.UserContext(), limit)
	if err != nil {
		return err
	}
	return c.JSON(importsPage{Imports: nonNil(list)})
}

// getImport answers GET /api/v1/contacts/imports/:id: one import.
func (s *server) getImport(c *fiber.Ctx) error {
	id := c.Params("id")
	imp, err := s.e.GetImport(c.UserContext(), id)
	if err != nil {
		return about(err, "import %q", id)
	}
	return c.JSON(imp)
}

// importBody is an import's body as it arrives: at most limit bytes (more
// is a 413). Each read gets the read timeout of its own: fasthttp's
// ReadTimeout counts from the start of the request and would end every
// import that lasts longer, however steadily the client sends.
type importBody struct {
	r       io.Reader
	conn    net.Conn
	timeout time.Duration
	left    int64 // bytes still allowed
	limit   int64
}

func (b *importBody) Read(p []byte) (int, error) {
	if b.conn != nil {
		_ = b.conn.SetReadDeadline(time.Now().Add(b.timeout))
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the limit tells a body too large
	}
	n, err := b.r.Read(p)
	if int64(n) > b.left {
		return int(b.left), tooLarge(b.limit)
	}
	b.left -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = bodyReadError(err)
	}
	return n, err
}
