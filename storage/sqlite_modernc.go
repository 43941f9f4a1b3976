//go:build !cgosqlite && ((darwin && amd64) || (darwin && arm64) || (linux && 386) || (linux && amd64) || (linux && arm) || (linux && arm64) || (windows && amd64))

package storage

import (
	"sync"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The build constraint is sqliteshim's: these are the targets on which it
// uses modernc.org/sqlite (pure Go).

var stmtJournalOnce sync.Once

// configureSQLite keeps statement journals in small in-memory chunks.
// Inside a transaction every multi-row statement opens a statement journal
// whose buffer SQLite sizes to its spill threshold, 64 KiB; modernc's
// allocator maps every block that large with mmap and unmaps it when the
// statement ends, which was 15% of the embedded stack's CPU in the
// end-to-end benchmark. A threshold of 0 means 1 KiB chunks that stay in
// memory; a batch's statement journal is a few pages. It must run before
// SQLite initialises, so before the first connection of the process;
// later it is refused (SQLITE_MISUSE) and changes nothing.
func configureSQLite() {
	stmtJournalOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		va := libc.NewVaList(int32(0))
		defer libc.Xfree(tls, va)
		sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_STMTJRNL_SPILL, va)
	})
}
