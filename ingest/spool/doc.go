// Package spool is the durable local log in front of ClickHouse. HTTP
// collectors Append each accepted record and acknowledge the client once
// Append returns, when the record is on disk. A single consumer Reads records
// in order, Plans a batch, inserts it into ClickHouse and Commits; only
// committed records are removed.
//
// # Guarantees
//
// After a crash at any moment (of the process, or of the machine on a disk
// that honours fdatasync), Open gives back every record whose Append
// returned, in order, with the same bytes and sequence numbers, and nothing
// torn. Records whose Append had not returned may or may not be there. Sequence numbers start at
// 1, are dense and are never reused. Plans survive a crash, so the consumer
// re-forms exactly the batches it may already have inserted and
// ClickHouse's insert deduplication drops the repeats.
//
// # On disk
//
// Options.Dir holds:
//
//   - log files named by their first record's sequence number,
//     00000000000000000001.seg (".seg" for every version so far), holding
//     records framed as
//     [u32 length][u32 CRC32C (Castagnoli) of payload][payload], little-endian;
//   - checkpoint: the committed point and the planned ranges (checkpoint.go);
//   - reserve: 256 KiB set aside so that a Commit can be recorded, and space
//     freed, when the disk is full;
//   - LOCK: flock'd while a Spool has the directory open.
//
// The directory is 0700 and its files 0600: records are kept as they
// arrived (names, addresses, order lines), for the platform's user only.
// Open tightens a spool an older version left 0755 with 0644 files.
//
// A frame carries no sequence number: a log file's records are numbered from
// its name on. Empty records are refused, so the zeros a crash can leave at
// the end of a file never read as records.
//
// # Concurrency
//
// Appends are group-committed (append.go): records of concurrent Appends are
// written with one write by a writer goroutine and made durable by a syncer
// goroutine's fdatasync, which covers every write done when it starts.
// Memory is bounded by the open batch (1 MiB), the unsynced writes (4 MiB)
// and a sparse index of 8 bytes per 64 records; records are read back from
// the files (the page cache keeps the recent ones).
package spool
