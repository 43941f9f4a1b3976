//go:build !cgosqlite && ((darwin && amd64) || (darwin && arm64) || (linux && 386) || (linux && amd64) || (linux && arm) || (linux && arm64) || (windows && amd64))

package storage

import (
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The build constraint is sqliteshim's: these are the targets on which it
// uses modernc.org/sqlite (pure Go).

var configureOnce sync.Once

// pageCachePages is the size, in pages, of the page cache pool every
// connection and temporary table shares (4.3 MiB of 4 KiB pages, allocated
// once).
const pageCachePages = 1024

// sqlitePageSize is SQLite's default page size, which Sluice's databases
// keep.
const sqlitePageSize = 4096

// configureSQLite sets up SQLite's memory so that modernc's allocator,
// which maps every block of 16 KiB or more with mmap and unmaps it when it
// is freed, is not asked for such blocks at every statement. It must run
// before SQLite initialises, so before the first connection of the
// process; later it is refused (SQLITE_MISUSE) and changes nothing.
//
//   - Statement journals in small in-memory chunks. Inside a transaction
//     every multi-row statement opens a statement journal whose buffer
//     SQLite sizes to its spill threshold, 64 KiB: mapped and unmapped per
//     statement, which was 15% of the embedded stack's CPU in the
//     end-to-end benchmark. A threshold of 0 means 1 KiB chunks that stay
//     in memory; a batch's statement journal is a few pages.
//   - A page cache pool. Every IN (…) list of a batch statement is a
//     temporary b-tree with a page cache of its own, and readers drop
//     their caches whenever the writer commits; their pages, allocated one
//     by one, were mapped and unmapped in 64 KiB blocks. They now come
//     from one pool allocated at start (beyond it, from the allocator as
//     before). A/B on the embedded stack, 16 clients, 4 pairs of runs:
//     CPU per delivery 1,440-1,788 -> 1,296-1,642 us, 713-852 -> 780-969
//     deliveries/s; idle RSS +3 MiB.
func configureSQLite() {
	configureOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		config := func(op int32, args ...any) int32 {
			va := libc.NewVaList(args...)
			defer libc.Xfree(tls, va)
			return sqlite3.Xsqlite3_config(tls, op, va)
		}
		config(sqlite3.SQLITE_CONFIG_STMTJRNL_SPILL, int32(0))

		hdr := libc.Xmalloc(tls, 4)
		defer libc.Xfree(tls, hdr)
		if config(sqlite3.SQLITE_CONFIG_PCACHE_HDRSZ, hdr) != sqlite3.SQLITE_OK {
			return
		}
		slot := sqlitePageSize + *(*int32)(cmem(hdr))
		pool := libc.Xmalloc(tls, libc.Tsize_t(pageCachePages*int(slot))) // kept for the process's life
		if pool == 0 {
			return
		}
		if config(sqlite3.SQLITE_CONFIG_PAGECACHE, pool, slot, int32(pageCachePages)) != sqlite3.SQLITE_OK {
			libc.Xfree(tls, pool)
		}
	})
}

// pageCacheUsed returns how many pages of the page cache pool are in use
// (for tests).
func pageCacheUsed() int64 {
	tls := libc.NewTLS()
	defer tls.Close()
	cur := libc.Xmalloc(tls, 16)
	defer libc.Xfree(tls, cur)
	sqlite3.Xsqlite3_status64(tls, sqlite3.SQLITE_STATUS_PAGECACHE_USED, cur, cur+8, 0)
	return *(*int64)(cmem(cur))
}

// cmem is the pointer to C memory (modernc's allocator: not Go's heap, so
// never moved or collected) at address p.
func cmem(p uintptr) unsafe.Pointer { return unsafe.Add(nil, p) }
