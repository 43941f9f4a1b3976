package storage

import (
	"bufio"
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun/schema"
)

// Many rows that cannot conflict go to PostgreSQL as COPY … FROM STDIN
// rather than as one INSERT … VALUES: PostgreSQL then parses, analyses and
// plans no statement the size of the rows (a quarter of its CPU under load
// went there), and stores each row for about two thirds of the work.
//
// pgdriver runs COPY only as a statement of its own, one round trip more.
// A pgConn sends it instead with what waits for the next statement: the
// Query message holds the waiting statements, the COPY statements among
// them, and what ends the wait (COMMIT); the rows of each COPY follow
// straight behind it as CopyData and CopyDone, so the server finds them
// when it reaches that COPY. A simple query may hold a COPY among other
// statements, and if one fails the server skips the rest of the query and
// ignores the copy data that follows (PostgreSQL's protocol, "COPY
// Operations"). A query sent later (queryLater) that waits travels with
// them too: it goes first, and the exchange reads its rows. A query run
// after copies in the same transaction cannot: what waits is then sent
// alone first, a round trip more.
//
// COPY also stores the rows of a table with fewer WAL records (one per
// page, heap_multi_insert) than as many INSERTed rows.

// defaultCopyMinRows is the fewest rows sent as COPY (Config.CopyMinRows).
// Below it a COPY statement's own cost outweighs what it saves. At 16
// clients, where the hot writes are batches of about 8 rows, interleaved
// runs of 4, 8 and 32 (no COPY) gave PostgreSQL 158-182 µs of CPU per
// delivery at 4, 169-190 at 8 and 188-230 at 32; 1 was no better than 4.
const defaultCopyMinRows = 4

// copyKey carries the rows (COPY text format) of a COPY statement.
type copyKey struct{}

// copyLater inserts the rows of model (a pointer to a slice of rows) as
// insertLater does; on PostgreSQL, Config.CopyMinRows rows or more go as
// COPY.
func (r *repo) copyLater(ctx context.Context, model any) error {
	if !r.st.postgres || r.st.copyMinRows == 0 || reflect.ValueOf(model).Elem().Len() < r.st.copyMinRows {
		return r.insertLater(ctx, model)
	}
	query, data, err := copyText(r.st.db.Dialect().Tables(), r.st.db.QueryGen(), model)
	if err != nil {
		return err
	}
	_, err = r.conn(ctx).ExecContext(context.WithValue(later(ctx), copyKey{}, data), query)
	return err
}

// copyText returns the COPY statement for the rows of model (a pointer to
// a slice of structs, or of pointers to them) and the rows in COPY's text
// format, each value as bun would have written it into an INSERT.
func copyText(tables *schema.Tables, gen schema.QueryGen, model any) (string, []byte, error) {
	table, slice := modelRows(tables, model)
	q := appendTableColumns([]byte("COPY "), table)
	q = append(q, " FROM STDIN"...)

	kinds := plainKindsOf(table)
	var data, lit []byte
	for i := range slice.Len() {
		row := rowAt(slice, i)
		for j, f := range table.Fields {
			if j > 0 {
				data = append(data, '\t')
			}
			var err error
			if data, lit, err = appendCopyField(data, lit, gen, f, kinds[j], row); err != nil {
				return "", nil, fmt.Errorf("copy %s.%s: %w", table.Name, f.Name, err)
			}
		}
		data = append(data, '\n')
		if i == 0 {
			data = slices.Grow(data, len(data)*(slice.Len()-1)*9/8)
		}
	}
	return string(q), data, nil
}

// appendCopyValue appends the SQL literal lit (NULL, a number, TRUE or
// FALSE, or a quoted string, maybe with a ::cast) as a value of COPY's
// text format.
func appendCopyValue(b, lit []byte) ([]byte, error) {
	switch string(lit) {
	case "NULL":
		return append(b, `\N`...), nil
	case "TRUE":
		return append(b, 't'), nil
	case "FALSE":
		return append(b, 'f'), nil
	}
	if len(lit) == 0 || lit[0] != '\'' {
		if len(lit) == 0 || bytes.IndexFunc(lit, func(r rune) bool { return !strings.ContainsRune("0123456789.-+eE", r) }) >= 0 {
			return b, fmt.Errorf("cannot copy the value %q", lit)
		}
		return append(b, lit...), nil
	}
	for s := lit[1:]; ; {
		i := 0
		for i < len(s) && !copySpecial[s[i]] {
			i++
		}
		if i == len(s) {
			return b, fmt.Errorf("cannot copy the value %q: unterminated", lit)
		}
		b = append(b, s[:i]...)
		c := s[i]
		s = s[i+1:]
		switch c {
		case '\'':
			if len(s) > 0 && s[0] == '\'' {
				b = append(b, '\'')
				s = s[1:]
				continue
			}
			if len(s) == 0 || bytes.HasPrefix(s, []byte("::")) {
				return b, nil
			}
			return b, fmt.Errorf("cannot copy the value %q", lit)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		}
	}
}

// copySpecial marks the bytes of a quoted SQL literal that end it or that
// COPY's text format escapes.
var copySpecial = [256]bool{'\'': true, '\\': true, '\n': true, '\r': true, '\t': true}

// piece is a statement waiting for the next one: SQL, and for a COPY its
// rows, or for a query sent later what takes its rows (queryLater).
type piece struct {
	sql  string
	rows []byte
	sink func(row []driver.Value) error
}

// exchange sends what waits, then tail (COMMIT, or nothing), in one
// Query message followed by the rows of its COPY statements, and reads the
// answers up to ReadyForQuery. A query sent later that waits (the head,
// queryLater) goes first and its sink gets its rows, each column as text
// ([]byte, nil for NULL): no other statement that waits returns rows. A
// sink's error is returned once the answers are read, but a COMMIT in the
// same message has run by then, as in the statement mergeWrites makes of
// a head and the writes after it: a sink only collects.
//
// It returns the first error the server reported (a pgError), else the
// sink's. A failure to talk to the server closes the connection, so that
// the pool drops it.
func (cn *pgConn) exchange(ctx context.Context, tail string) error {
	var copies [][]byte
	for _, p := range cn.pending {
		if p.rows != nil {
			copies = append(copies, p.rows)
		}
	}
	var sink func([]driver.Value) error
	if cn.headWaits() {
		sink = cn.pending[0].sink
	}
	msg := appendMessage(nil, 'Q', append([]byte(cn.take(tail)), 0))
	for _, rows := range copies {
		msg = appendMessage(msg, 'd', rows)
		msg = appendMessage(msg, 'c', nil)
	}
	cn.trips.Add(1)

	nc := cn.Conn.Conn()
	deadline := time.Now().Add(exchangeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = nc.SetDeadline(deadline)
	defer nc.SetDeadline(time.Time{})
	fail := func(err error) error {
		nc.Close()
		return fmt.Errorf("storage: copy to PostgreSQL: %w", err)
	}
	if _, err := nc.Write(msg); err != nil {
		return fail(err)
	}
	rd := bufio.NewReader(nc)
	var first, sinkErr error
	var head [5]byte
	var row []driver.Value
	for {
		if _, err := io.ReadFull(rd, head[:]); err != nil {
			return fail(err)
		}
		n := int(binary.BigEndian.Uint32(head[1:])) - 4
		if n < 0 {
			return fail(fmt.Errorf("bad message length %d", n))
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(rd, body); err != nil {
			return fail(err)
		}
		switch head[0] {
		case 'D':
			if sink == nil {
				return fail(errors.New("rows from a statement that returns none"))
			}
			r, err := dataRow(body, row)
			if err != nil {
				return fail(err)
			}
			row = r
			if sinkErr == nil {
				sinkErr = sink(row)
			}
		case 'E':
			if first == nil {
				first = parsePgError(body)
			}
		case 'Z':
			if rd.Buffered() > 0 {
				return fail(errors.New("data after ReadyForQuery"))
			}
			if first == nil {
				first = sinkErr
			}
			return first
		}
		// RowDescription, CommandComplete, CopyInResponse, notices and
		// parameter statuses need nothing.
	}
}

// dataRow reads a DataRow's columns (text format) into row, reusing it:
// each a slice of body, nil for NULL.
func dataRow(body []byte, row []driver.Value) ([]driver.Value, error) {
	if len(body) < 2 {
		return nil, errors.New("short DataRow")
	}
	n := int(binary.BigEndian.Uint16(body))
	body, row = body[2:], row[:0]
	for range n {
		if len(body) < 4 {
			return nil, errors.New("short DataRow")
		}
		size := int32(binary.BigEndian.Uint32(body))
		body = body[4:]
		if size < 0 {
			row = append(row, nil)
			continue
		}
		if int(size) > len(body) {
			return nil, errors.New("short DataRow")
		}
		row = append(row, body[:size:size])
		body = body[size:]
	}
	return row, nil
}

// appendMessage appends a protocol message: its type, its length, body.
func appendMessage(b []byte, typ byte, body []byte) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(body)))
	return append(b, body...)
}

// exchangeTimeout bounds an exchange whose context has no deadline.
const exchangeTimeout = time.Minute

// pgError is an error PostgreSQL reported during an exchange.
type pgError struct {
	fields map[byte]string
}

// parsePgError reads an ErrorResponse's fields.
func parsePgError(body []byte) pgError {
	e := pgError{fields: map[byte]string{}}
	for len(body) > 1 {
		code := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			break
		}
		e.fields[code] = string(body[1 : 1+end])
		body = body[2+end:]
	}
	return e
}

// Field returns a field of the error, as pgdriver.Error does ('C' is the
// SQLSTATE code).
func (e pgError) Field(k byte) string { return e.fields[k] }

func (e pgError) Error() string {
	return fmt.Sprintf("%s: %s (SQLSTATE=%s)", e.fields['S'], e.fields['M'], e.fields['C'])
}
