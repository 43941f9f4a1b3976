package engine

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// rowReader reads an import file one row at a time. next returns io.EOF
// after the last row and any other error when the file cannot be read
// further; a row that cannot be understood comes back with its err set.
type rowReader interface {
	next() (importRow, error)
}

// importRow is one row of an import file.
type importRow struct {
	line    int64 // where it starts, from 1
	contact ContactInput
	err     error // why the row is refused; nil when it can be ingested
}

// maxImportFields is how many custom columns a CSV file may have: as many
// custom fields as a contact input may carry.
const maxImportFields = 200

// csvField is what a CSV column holds.
type csvField int

const (
	csvCustom csvField = iota
	csvEmail
	csvFirstname
	csvLastname
	csvTimezone
	csvGroups
)

// csvStandard are the columns that hold a contact's own fields.
var csvStandard = map[string]csvField{"email": csvEmail, "firstname": csvFirstname, "lastname": csvLastname,
	"timezone": csvTimezone, "groups": csvGroups}

// csvColumn is one column of a CSV file: a standard field, or a custom
// field named by the header.
type csvColumn struct {
	field csvField
	name  string
}

// csvRows reads a CSV import file: a header row naming the columns, then
// one contact per record.
type csvRows struct {
	r     *csv.Reader
	limit *recordCap
	cols  []csvColumn
	email int // index of the email column
}

// utf8BOM starts the CSV files some spreadsheets save.
var utf8BOM = []byte("\uFEFF")

// newCSVRows reads the header row. A header it cannot use is an
// *InvalidError; a body it cannot read, that error.
func newCSVRows(body io.Reader) (*csvRows, error) {
	limit := &recordCap{r: body}
	br := bufio.NewReader(limit)
	if b, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	r := csv.NewReader(br) // reads through br: a *bufio.Reader is used as it is
	r.FieldsPerRecord = -1 // rows are checked against the header here, with a clearer message
	r.ReuseRecord = true
	header, err := r.Read()
	var parse *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, Invalid("header", "the file is empty: a CSV import starts with a header row naming its columns (email, firstname…)")
	case errors.As(err, &parse):
		return nil, Invalid("header", "the header row is not valid CSV: %v", parse)
	case err != nil:
		return nil, err
	}
	cols, err := csvColumns(header)
	if err != nil {
		return nil, err
	}
	c := &csvRows{r: r, limit: limit, cols: cols}
	for i, col := range cols {
		if col.field == csvEmail {
			c.email = i
		}
	}
	return c, nil
}

// csvColumns reads the header row: email, firstname, lastname, timezone
// and groups (in any case) are the contact's own fields; any other column
// is a custom field of that name, named as the API's fields are.
func csvColumns(header []string) ([]csvColumn, error) {
	cols := make([]csvColumn, len(header))
	seen := map[string]int{} // column name → index
	custom := 0
	for i, h := range header {
		name := strings.TrimSpace(h)
		if f, ok := csvStandard[strings.ToLower(name)]; ok {
			cols[i] = csvColumn{field: f, name: strings.ToLower(name)}
		} else {
			if err := checkColumn(i, name); err != nil {
				return nil, err
			}
			cols[i] = csvColumn{field: csvCustom, name: name}
			custom++
		}
		if j, dup := seen[cols[i].name]; dup {
			return nil, Invalid("header", "columns %d and %d are both %q", j+1, i+1, cols[i].name)
		}
		seen[cols[i].name] = i
	}
	if _, ok := seen["email"]; !ok {
		return nil, Invalid("header", "the header row has no email column")
	}
	if custom > maxImportFields {
		return nil, Invalid("header", "at most %d custom field columns, not %d", maxImportFields, custom)
	}
	return cols, nil
}

// checkColumn checks the name of a custom field column.
func checkColumn(i int, name string) error {
	switch {
	case name == "":
		return Invalid("header", "column %d has no name", i+1)
	case !fieldName.MatchString(name):
		return Invalid("header", "column %d %q: a custom field name is a letter or _ then up to 63 letters, digits or _", i+1, name)
	case reserved[name]:
		return Invalid("header", "column %d %q: that is a contact's own field, which an import does not set", i+1, name)
	}
	return nil
}

// next reads the next record. A record that is not valid CSV is refused
// with its line.
func (c *csvRows) next() (importRow, error) {
	c.limit.reset()
	rec, err := c.r.Read()
	var parse *csv.ParseError
	if errors.As(err, &parse) {
		return importRow{line: int64(parse.StartLine),
			err: Invalid("", "not valid CSV (line %d, column %d): %v", parse.Line, parse.Column, parse.Err)}, nil
	}
	if err != nil {
		return importRow{}, err
	}
	line, _ := c.r.FieldPos(0)
	return c.row(int64(line), rec), nil
}

// row turns a record into a contact. An empty cell leaves the contact's
// field as it is, so that importing a file never blanks what it lacks.
func (c *csvRows) row(line int64, rec []string) importRow {
	row := importRow{line: line}
	if c.email < len(rec) {
		row.contact.Email = strings.TrimSpace(rec[c.email])
	}
	if len(rec) != len(c.cols) {
		row.err = Invalid("", "the row has %d fields; the header has %d", len(rec), len(c.cols))
		return row
	}
	in := &row.contact
	for i, col := range c.cols {
		v := strings.TrimSpace(rec[i])
		if v == "" {
			continue
		}
		switch col.field {
		case csvFirstname:
			in.Firstname = &v
		case csvLastname:
			in.Lastname = &v
		case csvTimezone:
			in.Timezone = &v
		case csvGroups:
			in.Groups = splitGroups(v)
		case csvCustom:
			if in.Fields == nil {
				in.Fields = map[string]any{}
			}
			in.Fields[col.name] = v
		}
	}
	return row
}

// splitGroups reads a groups cell: names separated by | or ;.
func splitGroups(v string) []string {
	var out []string
	for _, g := range strings.FieldsFunc(v, func(r rune) bool { return r == '|' || r == ';' }) {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

// errRecordTooLong stops a CSV import whose record outgrows MaxImportLine.
var errRecordTooLong = Invalid("", "a CSV record is longer than %d bytes (an unclosed quote?); the import stops there", MaxImportLine)

// recordCap bounds the memory one CSV record takes: encoding/csv reads a
// record whole, and an unclosed quote would make the rest of the file one
// field. It counts the bytes read since the record began (reset), which
// include at most a buffer's worth of read-ahead.
type recordCap struct {
	r    io.Reader
	read int
}

func (c *recordCap) reset() { c.read = 0 }

func (c *recordCap) Read(p []byte) (int, error) {
	room := MaxImportLine - c.read
	if room <= 0 {
		return 0, errRecordTooLong
	}
	if len(p) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

// ndjsonRows reads an NDJSON import file: one ContactInput object per
// line; blank lines are skipped.
type ndjsonRows struct {
	r    *bufio.Reader
	line int64
}

// newNDJSONRows reads body through a buffer of MaxImportLine bytes: the
// longest line it takes.
func newNDJSONRows(body io.Reader) *ndjsonRows {
	return &ndjsonRows{r: bufio.NewReaderSize(body, MaxImportLine)}
}

func (n *ndjsonRows) next() (importRow, error) {
	for {
		raw, tooLong, err := n.readLine()
		if err != nil {
			return importRow{}, err
		}
		n.line++
		if tooLong {
			return importRow{line: n.line, err: Invalid("", "the line is longer than %d bytes", MaxImportLine)}, nil
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			return n.decode(raw), nil
		}
	}
}

// readLine returns the next line; one longer than the buffer is skipped
// to its end and reported tooLong. The last line may lack its newline;
// io.EOF comes once nothing is left.
func (n *ndjsonRows) readLine() (line []byte, tooLong bool, err error) {
	line, err = n.r.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		_, err = n.r.ReadSlice('\n')
	}
	if errors.Is(err, io.EOF) && (len(line) > 0 || tooLong) {
		err = nil
	}
	return line, tooLong, err
}

// decode reads one line's object strictly: unknown fields, wrong types
// and trailing data refuse the row.
func (n *ndjsonRows) decode(raw []byte) importRow {
	row := importRow{line: n.line}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&row.contact)
	if err == nil {
		if _, more := dec.Token(); !errors.Is(more, io.EOF) {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err != nil {
		row.err = jsonRowError(err)
	}
	return row
}

// jsonRowError says why a line's JSON was refused, naming the field when
// json does.
func jsonRowError(err error) error {
	var (
		typ    *json.UnmarshalTypeError
		syntax *json.SyntaxError
	)
	switch {
	case errors.As(err, &typ) && typ.Field != "":
		return Invalid(typ.Field, "must be %s, not %s", JSONKindOf(typ.Type), typ.Value)
	case errors.As(err, &syntax):
		return Invalid("", "malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("", "malformed JSON: the line ends in the middle of a value")
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
		return Invalid(strings.Trim(name, `"`), "is not a known field")
	}
	return Invalid("", "%s", msg)
}

// JSONKindOf names the JSON type a Go type takes, for messages ("must be
// a string, not number"). The API's body decoding says it the same way.
func JSONKindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return JSONKindOf(t.Elem())
	}
	if t.ConvertibleTo(reflect.TypeFor[int64]()) {
		return "an integer"
	}
	return "a " + t.String()
}

// checkText refuses text a database cannot store: invalid UTF-8 (a file
// saved in another encoding) and NUL characters. Refusing the row here
// keeps one bad row from failing its whole chunk's transaction.
func checkText(in *ContactInput) error {
	texts := [][2]string{{"email", in.Email}} // field, text
	for _, f := range []struct {
		name string
		p    *string
	}{{"firstname", in.Firstname}, {"lastname", in.Lastname}, {"timezone", in.Timezone}} {
		if f.p != nil {
			texts = append(texts, [2]string{f.name, *f.p})
		}
	}
	for i, g := range in.Groups {
		texts = append(texts, [2]string{fmt.Sprintf("groups[%d]", i), g})
	}
	for k, v := range in.Fields {
		texts = append(texts, [2]string{"fields." + k, k})
		if s, ok := v.(string); ok {
			texts = append(texts, [2]string{"fields." + k, s})
		}
	}
	for k, v := range in.Dates {
		texts = append(texts, [2]string{"dates." + k, k}, [2]string{"dates." + k, v})
	}
	for _, t := range texts {
		switch {
		case !utf8.ValidString(t[1]):
			return Invalid(t[0], "is not UTF-8 text (save the file as UTF-8)")
		case strings.IndexByte(t[1], 0) >= 0:
			return Invalid(t[0], "holds a NUL character")
		}
	}
	return nil
}
