package storage

import (
	"strconv"
	"strings"
)

// mergeWrites returns the waiting statements ps as one statement, when
// they can be: each an INSERT, or a WITH of INSERTs followed by an INSERT,
// each table written once. The INSERTs of the WITHs, and all but the last
// statement, go into the WITH of the last one:
//
//	INSERT INTO a …; WITH t AS (INSERT INTO b …) INSERT INTO c …
//
// becomes
//
//	WITH w0 AS (INSERT INTO a …), t AS (INSERT INTO b …) INSERT INTO c …
//
// PostgreSQL runs every part of such a statement on one snapshot, so a
// part does not see the rows of another, and changing a row twice in one
// statement is an error: hence INSERTs (an upsert reads only its own
// table) and, before the last statement, UPDATEs that read no other table
// (a contact's, by id), each table once. Constraints are checked at the
// end of the statement, so a row may still refer to a row another part
// inserts. Anything else is left as it is (ok false), and then goes as
// several statements in one message, as before (or see mergeTail).
//
// A query sent later (queryLater: a WITH of UPDATEs or INSERTs, then a
// SELECT) waits first when it waits at all; it is then the main statement,
// and the INSERTs after it join its WITH, which makes one statement of a
// single query too. Issued before them, it would not have seen their rows
// anyway; its tables are its own (each table once) and its SELECT reads
// its WITH.
func mergeWrites(ps []piece) (merged string, ok bool) {
	head := len(ps) > 0 && ps[0].sink != nil
	if len(ps) < 2 && !head {
		return "", false
	}
	type part struct{ name, body string }
	var parts []part
	tables, names := map[string]bool{}, map[string]bool{}
	// The parts of a query sent later (its own WITH) may write a table
	// twice, as FinishAll's finish and its next steps do: it was written
	// as one statement. The statements after it may write none of its
	// tables.
	add := func(name, body string, table func(string) (string, bool), own bool) bool {
		t, ok := table(body)
		if !ok || tables[t] && !own || names[name] {
			return false
		}
		tables[t], names[name] = true, true
		parts = append(parts, part{name, body})
		return true
	}
	var last string
	for i, p := range ps {
		if p.rows != nil || i > 0 && p.sink != nil {
			return "", false // a COPY, or a second query
		}
		with, main, ok := splitWith(p.sql)
		if !ok {
			return "", false
		}
		table := insertTable
		if p.sink != nil {
			table = writeTable
		}
		for _, c := range with {
			if !add(c[0], c[1], table, p.sink != nil) {
				return "", false
			}
		}
		name := "sluice_w" + strconv.Itoa(i)
		if p.sink != nil {
			if !strings.HasPrefix(main, "SELECT ") {
				return "", false
			}
			last = main
			continue
		}
		if i == len(ps)-1 && !head {
			if !add(name, main, insertTable, false) {
				return "", false
			}
			parts = parts[:len(parts)-1] // the last statement is the main one
			last = main
		} else if !add(name, main, insertOrUpdateTable, false) {
			return "", false
		}
	}
	if len(parts) == 0 {
		return last, true
	}
	var q strings.Builder
	q.WriteString("WITH ")
	for i, p := range parts {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(p.name)
		q.WriteString(" AS (")
		q.WriteString(p.body)
		q.WriteString(")")
	}
	q.WriteString(" ")
	q.WriteString(last)
	return q.String(), true
}

// mergeTail is mergeWrites for the waiting statements after the first
// ones, when mergeWrites cannot take them all: ps[:k] stay as they are and
// ps[k:] become one statement, for the smallest k that works. The first
// are plain statements (no COPY, no query) that cannot merge, such as an
// UPDATE of a contact before the INSERTs of its events. The order stays,
// so the merged statement sees what the first ones wrote.
func mergeTail(ps []piece) (first []piece, merged string, ok bool) {
	for k := 1; k < len(ps)-1; k++ {
		if ps[k-1].rows != nil || ps[k-1].sink != nil {
			return nil, "", false
		}
		if merged, ok := mergeWrites(ps[k:]); ok {
			return ps[:k], merged, true
		}
	}
	return nil, "", false
}

// insertTable returns the table an INSERT statement writes, as written
// (quoted or not), if stmt is an INSERT without RETURNING.
func insertTable(stmt string) (string, bool) {
	rest, ok := strings.CutPrefix(stmt, "INSERT INTO ")
	if !ok || strings.Contains(stmt, "RETURNING") || strings.Contains(stmt, "returning") {
		return "", false
	}
	end := strings.IndexAny(rest, " (")
	if end <= 0 {
		return "", false
	}
	return strings.Trim(rest[:end], `"`), true
}

// insertOrUpdateTable returns the table an INSERT without RETURNING, or an
// UPDATE without RETURNING that reads no other table, writes. A statement
// that only might read another (the words SELECT or FROM anywhere, even in
// a string) is refused.
func insertOrUpdateTable(stmt string) (string, bool) {
	if !strings.HasPrefix(stmt, "UPDATE ") {
		return insertTable(stmt)
	}
	upper := strings.ToUpper(stmt)
	if strings.Contains(upper, "RETURNING") || strings.Contains(upper, "SELECT") || strings.Contains(upper, "FROM") {
		return "", false
	}
	return writeTable(stmt)
}

// writeTable returns the table an INSERT or UPDATE statement writes.
func writeTable(stmt string) (string, bool) {
	if rest, ok := strings.CutPrefix(stmt, "UPDATE "); ok {
		if end := strings.IndexByte(rest, ' '); end > 0 {
			return strings.Trim(rest[:end], `"`), true
		}
		return "", false
	}
	return insertTable(stmt)
}

// splitWith splits a statement that starts with a WITH into the WITH's
// parts (name and body) and the statement that follows; a statement
// without WITH is all main. ok is false for what it cannot read (WITH
// RECURSIVE, MATERIALIZED, column lists).
func splitWith(stmt string) (with [][2]string, main string, ok bool) {
	rest, found := strings.CutPrefix(stmt, "WITH ")
	if !found {
		return nil, stmt, true
	}
	for {
		rest = strings.TrimLeft(rest, " \t\n")
		n := 0
		for n < len(rest) && isIdentByte(rest[n]) {
			n++
		}
		if n == 0 {
			return nil, "", false
		}
		name := rest[:n]
		rest = strings.TrimLeft(rest[n:], " \t\n")
		if rest, found = strings.CutPrefix(rest, "AS"); !found {
			return nil, "", false
		}
		rest = strings.TrimLeft(rest, " \t\n")
		end := closingParen(rest)
		if end < 0 {
			return nil, "", false
		}
		with = append(with, [2]string{name, strings.TrimSpace(rest[1:end])})
		rest = strings.TrimLeft(rest[end+1:], " \t\n")
		if rest, found = strings.CutPrefix(rest, ","); !found {
			return with, rest, true
		}
	}
}

// closingParen returns the index of the parenthesis that closes the one s
// starts with, skipping quoted strings and names (a quote doubled inside
// one closes and reopens it); -1 if s does not start with one or it is
// not closed.
func closingParen(s string) int {
	if s == "" || s[0] != '(' {
		return -1
	}
	depth := 0
	var quote byte // the quote of the string or name the scan is in
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: the same
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
