package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// EventContactImported is the event an import records for each contact
// when it names no list; with a list it records a signup on that list.
const EventContactImported = "contact_imported"

// Import file formats.
const (
	ImportCSV    = "csv"
	ImportNDJSON = "ndjson"
)

// MaxImportErrors is how many refused rows an import keeps with their
// reasons; it counts every refused row.
const MaxImportErrors = 1000

// MaxImportLine is about the longest NDJSON line or CSV record an import
// reads (1 MiB), so that memory stays bounded whatever the file holds.
const MaxImportLine = 1 << 20

// ImportStatus is the state of an import.
type ImportStatus string

// Import statuses.
const (
	ImportRunning   ImportStatus = "running"
	ImportCompleted ImportStatus = "completed"
	ImportFailed    ImportStatus = "failed"
)

// ImportSummary is an import's progress. The counts cover the chunks
// committed so far: Rows = Accepted + Refused.
type ImportSummary struct {
	ID        string       `json:"id"`
	Format    string       `json:"format"`
	ListID    string       `json:"list_id,omitempty"`
	Status    ImportStatus `json:"status"`
	Rows      int64        `json:"rows"`
	Accepted  int64        `json:"accepted"`
	Refused   int64        `json:"refused"`
	Failure   string       `json:"failure,omitempty"` // why a failed import stopped
	CreatedAt time.Time    `json:"created_at"`
	// UpdatedAt is the import's last sign of life: a chunk recorded, or a
	// heartbeat every ImportHeartbeat while it waits for the file.
	UpdatedAt time.Time `json:"updated_at"`
	// FinishedAt is when it completed or failed.
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Import is an import with its refused rows: the first MaxImportErrors,
// in file order; ErrorsTruncated says there were more.
type Import struct {
	ImportSummary
	Errors          []ImportRowError `json:"errors"`
	ErrorsTruncated bool             `json:"errors_truncated"`
}

// ImportRowError is a refused row: its line in the file (from 1), its
// email when known, the field at fault (a CSV column, or a path in an
// NDJSON object) and why.
type ImportRowError struct {
	Line    int64  `json:"line"`
	Email   string `json:"email,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ImportInput is one import to run.
type ImportInput struct {
	// Format is ImportCSV (a header row, then one contact per row) or
	// ImportNDJSON (one ContactInput object per line).
	Format string
	// ListID, when set, signs every contact up to that list.
	ListID string
	// Body is the file, read once, as it arrives.
	Body io.Reader
	// OnProgress, when set, is called with the import after each chunk's
	// progress is recorded.
	OnProgress func(Import)
}

// Import reads contacts from in.Body and ingests them MaxBatch rows at a
// time, one Ingest call (one transaction) per chunk, recording the
// import's progress after each chunk; memory holds one chunk whatever the
// size of the file. Each contact is upserted through a contact_imported
// event, or through a signup event on in.ListID, so that signup scenarios
// start for every imported contact.
//
// A bad row is refused and reported, never stopping the import; an email
// seen twice is merged. An unknown format or list, or a CSV header it
// cannot use, is an *InvalidError before anything is recorded (the Import
// is nil). When the body cannot be read further or storage fails, the
// import is recorded as failed and returned with the error: the chunks
// committed before stay committed.
func (e *Engine) Import(ctx context.Context, in ImportInput) (*Import, error) {
	rows, err := e.openImport(ctx, in)
	if err != nil {
		return nil, err
	}
	now := e.now()
	imp := &Import{ImportSummary: ImportSummary{ID: NewID("imp"), Format: in.Format, ListID: in.ListID,
		Status: ImportRunning, CreatedAt: now, UpdatedAt: now}, Errors: []ImportRowError{}}
	if err := e.st.InsertImport(ctx, imp); err != nil {
		return nil, fmt.Errorf("record import: %w", err)
	}
	im := &importer{e: e, imp: imp, rows: rows, listID: in.ListID, csv: in.Format == ImportCSV, onProgress: in.OnProgress}
	stop := e.importHeartbeat(ctx, imp.ID)
	err = im.run(ctx)
	stop()
	if err != nil {
		return imp, e.failImport(ctx, imp, err)
	}
	finished := e.now()
	imp.Status, imp.FinishedAt, imp.UpdatedAt = ImportCompleted, &finished, finished
	if err := e.st.UpdateImport(ctx, imp); err != nil {
		return imp, e.failImport(ctx, imp, err)
	}
	return imp, nil
}

// importHeartbeat touches a running import every ImportHeartbeat until
// the returned stop is called, so that it is not taken for dead while it
// waits for a slow upload. A failed touch is logged; the next may pass.
func (e *Engine) importHeartbeat(ctx context.Context, id string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(e.cfg.ImportHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := e.st.TouchImport(ctx, id, e.now()); err != nil && ctx.Err() == nil {
					e.log.Warn("import heartbeat", "import", id, "err", err)
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// FailStaleImports marks failed the running imports that have shown no
// sign of life for four heartbeats: the process running them stopped
// (they run inside the API request that uploads the file). It returns how
// many.
func (e *Engine) FailStaleImports(ctx context.Context) (int, error) {
	now := e.now()
	n, err := e.st.FailStaleImports(ctx, now.Add(-4*e.cfg.ImportHeartbeat), now,
		"interrupted: the process running it stopped; the rows counted were committed")
	if err != nil {
		return 0, fmt.Errorf("fail stale imports: %w", err)
	}
	return n, nil
}

// GetImport returns an import with its progress and refused rows.
func (e *Engine) GetImport(ctx context.Context, id string) (*Import, error) {
	imp, err := e.st.GetImport(ctx, id)
	if err != nil {
		return nil, err
	}
	imp.ErrorsTruncated = imp.Refused > int64(len(imp.Errors))
	return imp, nil
}

// Imports returns the latest imports without their errors, newest first.
func (e *Engine) Imports(ctx context.Context, limit int) ([]ImportSummary, error) {
	return e.st.ListImports(ctx, limit)
}

// openImport checks an import's format and list and reads the CSV header:
// all that can refuse a whole import does so before anything is recorded.
func (e *Engine) openImport(ctx context.Context, in ImportInput) (rowReader, error) {
	if in.Format != ImportCSV && in.Format != ImportNDJSON {
		return nil, Invalid("format", "an import is %s or %s, not %q", ImportCSV, ImportNDJSON, in.Format)
	}
	if in.ListID != "" {
		ok, err := e.listExists(ctx, e.st, in.ListID)
		if err != nil {
			return nil, fmt.Errorf("import: get list %s: %w", in.ListID, err)
		}
		if !ok {
			return nil, Invalid("list_id", "no list %q", in.ListID)
		}
	}
	body := in.Body
	if body == nil {
		body = strings.NewReader("")
	}
	if in.Format == ImportNDJSON {
		return newNDJSONRows(body), nil
	}
	return newCSVRows(body)
}

// failImport records why an import stopped and returns err for the
// caller, naming the import.
func (e *Engine) failImport(ctx context.Context, imp *Import, err error) error {
	var body *bodyError
	switch {
	case errors.As(err, &body):
		imp.Failure = "stopped reading the body: " + body.err.Error()
	case ctx.Err() != nil:
		imp.Failure = "cancelled: " + ctx.Err().Error()
	default:
		imp.Failure = "stopped by an internal error; the server log has the details"
		e.log.Error("import failed", "import", imp.ID, "err", err)
	}
	finished := e.now()
	imp.Status, imp.FinishedAt, imp.UpdatedAt = ImportFailed, &finished, finished
	// The import's own context may be what failed; its record must not.
	if uerr := e.st.UpdateImport(context.WithoutCancel(ctx), imp); uerr != nil {
		e.log.Error("record a failed import", "import", imp.ID, "err", uerr)
	}
	return fmt.Errorf("import %s: %w", imp.ID, err)
}

// bodyError is an import file that could not be read further.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "read the body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// importer feeds one import's rows to Ingest a chunk at a time.
type importer struct {
	e          *Engine
	imp        *Import
	rows       rowReader
	listID     string
	csv        bool // refused fields are named as CSV columns
	onProgress func(Import)

	// The chunk being read: at most MaxBatch rows.
	n      int              // rows in the chunk
	events []EventInput     // the rows to ingest
	refs   []rowRef         // refs[i] is the row events[i] came from
	errs   []ImportRowError // the chunk's refused rows
}

// rowRef is the row an event of a chunk came from.
type rowRef struct {
	line  int64
	email string
}

// run reads every row, flushing each full chunk and the last one.
func (im *importer) run(ctx context.Context) error {
	for {
		row, err := im.rows.next()
		if errors.Is(err, io.EOF) {
			return im.flush(ctx)
		}
		if err != nil {
			return &bodyError{err}
		}
		im.add(row)
		if im.n == MaxBatch {
			if err := im.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// add puts a row into the chunk: refused at once when it could not be
// read, else as the event that imports its contact.
func (im *importer) add(row importRow) {
	im.n++
	if row.err == nil {
		row.err = checkText(&row.contact)
	}
	if row.err != nil {
		im.refuse(row.line, row.contact.Email, row.err)
		return
	}
	ev := EventInput{Type: EventContactImported, Email: row.contact.Email, Contact: &row.contact,
		Data: map[string]any{"import_id": im.imp.ID}}
	if im.listID != "" {
		ev.Type, ev.ListID = EventSignup, im.listID
	}
	im.events = append(im.events, ev)
	im.refs = append(im.refs, rowRef{line: row.line, email: row.contact.Email})
}

// refuse notes a refused row of the chunk.
func (im *importer) refuse(line int64, email string, err error) {
	field, msg := "", err.Error()
	var inv *InvalidError
	if errors.As(err, &inv) {
		field, msg = im.fieldName(inv.Field), inv.Message
	}
	im.errs = append(im.errs, ImportRowError{Line: line, Email: storable(strings.TrimSpace(email), 320),
		Field: storable(field, 200), Message: storable(msg, 500)})
}

// fieldName names a refused field as the file does: without the event's
// "contact." prefix and, in a CSV file, as its column ("c3" for
// fields.c3, "groups" for groups[1]).
func (im *importer) fieldName(f string) string {
	f = strings.TrimPrefix(f, "contact.")
	if !im.csv {
		return f
	}
	if name, ok := strings.CutPrefix(f, "fields."); ok {
		return name
	}
	if strings.HasPrefix(f, "groups[") {
		return "groups"
	}
	return f
}

// flush ingests the chunk in one Ingest call, adds its outcome to the
// import and records the import's progress.
func (im *importer) flush(ctx context.Context) error {
	if im.n == 0 {
		return nil
	}
	accepted := 0
	if len(im.events) > 0 {
		res, err := im.e.Ingest(ctx, im.events)
		if err != nil {
			return err
		}
		if len(res) != len(im.events) {
			return fmt.Errorf("ingest: %d results for %d events", len(res), len(im.events))
		}
		for i, r := range res {
			if r.Err != nil {
				im.refuse(im.refs[i].line, im.refs[i].email, r.Err)
				continue
			}
			accepted++
		}
	}
	imp := im.imp
	imp.Rows += int64(im.n)
	imp.Accepted += int64(accepted)
	imp.Refused += int64(im.n - accepted)
	// Rows refused while reading and by Ingest: in file order.
	slices.SortFunc(im.errs, func(a, b ImportRowError) int { return cmp.Compare(a.Line, b.Line) })
	if room := MaxImportErrors - len(imp.Errors); len(im.errs) > room {
		im.errs, imp.ErrorsTruncated = im.errs[:room], true
	}
	imp.Errors = append(imp.Errors, im.errs...)
	imp.UpdatedAt = im.e.now()
	im.n, im.events, im.refs, im.errs = 0, im.events[:0], im.refs[:0], im.errs[:0]
	if err := im.e.st.UpdateImport(ctx, imp); err != nil {
		return fmt.Errorf("record progress: %w", err)
	}
	if im.onProgress != nil {
		p := *imp
		p.Errors = slices.Clone(imp.Errors)
		im.onProgress(p)
	}
	return nil
}

// storable cuts s to about n bytes of valid UTF-8 without NUL
// characters, which PostgreSQL's jsonb refuses: a refused row's email may
// be anything the file held.
func storable(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
