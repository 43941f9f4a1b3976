package storage

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"
)

// Rows written without bun's reflection on every value.
//
// bun writes a row's value through its field's appender: reflection, an
// SQL literal, time.Time.AppendFormat. For the rows of the hot path
// (events, runs, steps, deliveries, attempts) that was the largest part
// of Sluice's own CPU after HTTP: a tenth of it for COPY rows, as much
// again for INSERT … VALUES. The plain types of those rows (strings,
// integers, booleans, times, bytea) are written here straight, as COPY
// text (copyText) or as the SQL literal bun would have written
// (insertSQL, for PostgreSQL and SQLite); anything else, JSON above all,
// still goes through bun. Tests check that both give what bun gives, byte
// for byte.

// plainKind is how a field is written: straight for the plain types,
// else (plainOther) through bun.
type plainKind uint8

const (
	plainOther plainKind = iota
	plainString
	plainInt
	plainBool
	plainTime
	plainTimePtr
	plainBytes
)

// plainKinds caches plainKindsOf per table.
var plainKinds sync.Map // *schema.Table → []plainKind

// plainKindsOf returns how each field of table is written.
func plainKindsOf(table *schema.Table) []plainKind {
	if ks, ok := plainKinds.Load(table); ok {
		return ks.([]plainKind)
	}
	ks := make([]plainKind, len(table.Fields))
	for i, f := range table.Fields {
		if len(f.Index) != 1 || f.SQLDefault != "" {
			continue // a field of an embedded struct, or a default bun writes
		}
		switch t := f.StructField.Type; {
		case t == reflect.TypeFor[string]():
			ks[i] = plainString // nullzero: "" is NULL (DEFAULT in VALUES)
		case t == reflect.TypeFor[*utime]():
			ks[i] = plainTimePtr
		case f.NullZero:
		case t == reflect.TypeFor[int]() || t == reflect.TypeFor[int64]():
			ks[i] = plainInt
		case t == reflect.TypeFor[bool]():
			ks[i] = plainBool
		case t == reflect.TypeFor[utime]():
			ks[i] = plainTime
		case t == reflect.TypeFor[[]byte]():
			ks[i] = plainBytes
		}
	}
	plainKinds.Store(table, ks)
	return ks
}

// errStringNUL refuses a string PostgreSQL's text cannot hold.
var errStringNUL = errors.New("cannot store a string with NUL")

// appendCopyField appends field f of row, written as kind says, to data
// in COPY's text format. lit is scratch space for bun's literal, returned
// for reuse.
func appendCopyField(data, lit []byte, gen schema.QueryGen, f *schema.Field, kind plainKind, row reflect.Value) ([]byte, []byte, error) {
	v := row.Field(f.Index[0])
	switch kind {
	case plainString:
		s := v.String()
		switch {
		case s == "" && f.NullZero:
			return append(data, `\N`...), lit, nil
		case strings.IndexByte(s, 0) >= 0:
			return data, lit, errStringNUL
		case utf8.ValidString(s): // else bun's literal, which replaces bad bytes
			return appendCopyText(data, s), lit, nil
		}
	case plainInt:
		return strconv.AppendInt(data, v.Int(), 10), lit, nil
	case plainBool:
		if v.Bool() {
			return append(data, 't'), lit, nil
		}
		return append(data, 'f'), lit, nil
	case plainTime:
		return appendTimeText(data, *v.Addr().Interface().(*utime)), lit, nil
	case plainTimePtr:
		if v.IsNil() {
			return append(data, `\N`...), lit, nil
		}
		return appendTimeText(data, *v.Interface().(*utime)), lit, nil
	case plainBytes:
		b := v.Bytes()
		if b == nil {
			return append(data, `\N`...), lit, nil
		}
		data = append(data, `\\x`...)
		return hex.AppendEncode(data, b), lit, nil
	}
	lit = f.AppendValue(gen, lit[:0], row)
	data, err := appendCopyValue(data, lit)
	return data, lit, err
}

// appendValuesField appends field f of row, written as kind says, to b
// as the SQL literal bun's InsertQuery writes into VALUES: for a nil
// pointer or a nullzero zero value, DEFAULT on PostgreSQL and NULL on
// SQLite, whose VALUES know no DEFAULT.
func appendValuesField(b []byte, gen schema.QueryGen, sqlite bool, f *schema.Field, kind plainKind, row reflect.Value) ([]byte, error) {
	def := "DEFAULT"
	if sqlite {
		def = "NULL"
	}
	v := row.Field(f.Index[0])
	switch kind {
	case plainString:
		s := v.String()
		switch {
		case s == "" && f.NullZero:
			return append(b, def...), nil
		case strings.IndexByte(s, 0) >= 0:
			return b, errStringNUL
		case utf8.ValidString(s):
			return appendQuoted(b, s), nil
		}
	case plainInt:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case plainBool:
		if v.Bool() {
			return append(b, "TRUE"...), nil
		}
		return append(b, "FALSE"...), nil
	case plainTime:
		return appendTimeLiteral(b, *v.Addr().Interface().(*utime), sqlite), nil
	case plainTimePtr:
		if v.IsNil() {
			return append(b, def...), nil
		}
		return appendTimeLiteral(b, *v.Interface().(*utime), sqlite), nil
	case plainBytes:
		bs := v.Bytes()
		if bs == nil {
			return append(b, "NULL"...), nil
		}
		if sqlite {
			b = append(b, 'X')
		}
		b = append(b, '\'')
		if !sqlite {
			b = append(b, `\x`...)
		}
		return append(hex.AppendEncode(b, bs), '\''), nil
	}
	if f.IsPtr && v.IsNil() || f.NullZero && v.IsZero() {
		return append(b, def...), nil
	}
	return f.AppendValue(gen, b, row), nil
}

// appendTimeLiteral appends u quoted, as utime.AppendQuery writes it for
// the dialect.
func appendTimeLiteral(b []byte, u utime, sqlite bool) []byte {
	b = append(b, '\'')
	if sqlite {
		b = appendSQLiteTime(b, u)
	} else {
		b = appendTimeText(b, u)
	}
	return append(b, '\'')
}

// insertSQL returns the INSERT … VALUES statement that bun's
// NewInsert().Model(model).Returning("NULL") writes for gen's dialect
// (PostgreSQL or SQLite), model being a pointer to a non-empty slice of
// rows (structs, or pointers to them), with the plain fields written
// straight.
func insertSQL(tables *schema.Tables, gen schema.QueryGen, model any) (string, error) {
	sqlite := gen.Dialect().Name() == dialect.SQLite
	table, slice := modelRows(tables, model)
	if slice.Len() == 0 {
		return "", fmt.Errorf("insert into %s: no rows", table.Name)
	}
	kinds := plainKindsOf(table)
	b := appendTableColumns(append(make([]byte, 0, 256), "INSERT INTO "...), table)
	b = append(b, " VALUES ("...)
	for i := range slice.Len() {
		if i > 0 {
			b = append(b, "), ("...)
		}
		row := rowAt(slice, i)
		for j, f := range table.Fields {
			if j > 0 {
				b = append(b, ", "...)
			}
			var err error
			if b, err = appendValuesField(b, gen, sqlite, f, kinds[j], row); err != nil {
				return "", fmt.Errorf("insert into %s.%s: %w", table.Name, f.Name, err)
			}
		}
		if i == 0 {
			b = slices.Grow(b, len(b)*(slice.Len()-1)*9/8)
		}
	}
	return string(append(b, ')')), nil
}

// modelRows returns the rows of model (a pointer to a slice of structs,
// or of pointers to them) and their table.
func modelRows(tables *schema.Tables, model any) (*schema.Table, reflect.Value) {
	slice := reflect.ValueOf(model).Elem()
	typ := slice.Type().Elem()
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	return tables.Get(typ), slice
}

// rowAt returns the struct of row i of a slice modelRows returned.
func rowAt(slice reflect.Value, i int) reflect.Value {
	row := slice.Index(i)
	if row.Kind() == reflect.Pointer {
		row = row.Elem()
	}
	return row
}

// appendTableColumns appends table's name and its columns in
// parentheses, as bun writes them: "steps" ("id", "run_id", …).
func appendTableColumns(b []byte, table *schema.Table) []byte {
	b = append(b, table.SQLName...)
	b = append(b, " ("...)
	for i, f := range table.Fields {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, f.SQLName...)
	}
	return append(b, ')')
}

// appendQuoted appends s as a quoted SQL string (quotes doubled).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '\'')
	for {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			return append(append(b, s...), '\'')
		}
		b = append(b, s[:i+1]...)
		b = append(b, '\'')
		s = s[i+1:]
	}
}

// appendCopyText appends s as a value of COPY's text format.
func appendCopyText(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '\\':
			esc = `\\`
		case '\n':
			esc = `\n`
		case '\r':
			esc = `\r`
		case '\t':
			esc = `\t`
		default:
			continue
		}
		b = append(append(b, s[start:i]...), esc...)
		start = i + 1
	}
	return append(b, s[start:]...)
}

// appendTimeText appends u as "2006-01-02 15:04:05.999999-07:00" formats
// it (bun's format for PostgreSQL).
func appendTimeText(b []byte, u utime) []byte {
	t := u.T()
	if out, ok := appendDateTime(b, t, ' ', true); ok {
		return append(out, "+00:00"...)
	}
	return t.AppendFormat(b, "2006-01-02 15:04:05.999999-07:00")
}

// appendSQLiteTime appends u as sqliteTimeFormat formats it.
func appendSQLiteTime(b []byte, u utime) []byte {
	t := u.T()
	if out, ok := appendDateTime(b, t, 'T', false); ok {
		return append(out, 'Z')
	}
	return t.AppendFormat(b, sqliteTimeFormat)
}

// appendDateTime appends t (UTC, to the microsecond, as utime.T returns
// it) as "2006-01-02" sep "15:04:05.000000", the fraction's trailing
// zeros and then its dot trimmed when trim: what time.Time.AppendFormat
// writes for the formats above, for a tenth of its cost. ok is false,
// and nothing appended, for a year those formats do not write in four
// digits.
func appendDateTime(b []byte, t time.Time, sep byte, trim bool) ([]byte, bool) {
	year, month, day := t.Date()
	if year < 1 || year > 9999 {
		return b, false
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = appendDigits(append(b, '-'), int(month), 2)
	b = appendDigits(append(b, '-'), day, 2)
	b = appendDigits(append(b, sep), hour, 2)
	b = appendDigits(append(b, ':'), minute, 2)
	b = appendDigits(append(b, ':'), sec, 2)
	us := t.Nanosecond() / 1000
	if trim && us == 0 {
		return b, true
	}
	b = appendDigits(append(b, '.'), us, 6)
	if trim {
		b = bytes.TrimRight(b, "0") // stops within the fraction: us ≠ 0
	}
	return b, true
}

// appendDigits appends n (≥ 0) as width decimal digits, zero-padded.
func appendDigits(b []byte, n, width int) []byte {
	for range width {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return b
}
