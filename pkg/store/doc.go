// Package store keeps ppwatch's counters, Proofpoint replies and input
// positions in one bbolt file.
//
// # The one-transaction rule
//
// Apply writes a whole Batch (bucket counts, totals, replies and the input
// positions that those counts were read up to) in a single db.Update. After a
// crash the file holds either all of a batch or none of it, so the positions
// always match the counts: input read after the last commit is read again and
// counted once. Apply is all-or-nothing; when it fails (for example the disk
// is full) the caller keeps the batch, stops reading, and applies the same
// batch again later. DB.Batch is never used: its function may run twice.
// There is one writer goroutine (Apply, Prune); readers copy what they need
// out of short read transactions and return plain Go values, because bbolt
// byte slices are only valid inside the transaction and long readers stop
// page reuse.
//
// # Buckets and keys
//
// All integers are big-endian. A "field" is a uvarint length followed by the
// bytes; fields are cut to 255 bytes (responses to 512) so that no key can
// exceed bbolt's key size limit and stall Apply forever.
//
//	meta
//	  "format"  -> "ppwatch-store"
//	  "schema"  -> uint64 (1); Open refuses any other version (ErrSchema)
//	  "created" -> uint64 unix microseconds
//	series                              one key per series ever seen, never pruned;
//	  series -> uint32 id | uint64 total   bounded by the domain bound (below)
//	series_ids                          the same, by id, to decode cells
//	  uint32 id -> series
//	buckets_1m                          1-minute counters by event time
//	  minute | uint32 id -> uint64 count
//	replies                             distinct Proofpoint replies
//	  field(ip) field(domain) field(response) ->
//	      uint64 count | uint16 smtp code | int64 first seen | int64 last seen |
//	      field(enhanced code) field(class)       (times in unix microseconds)
//	reply_overflow                      replies over the per-pair bound
//	  field(ip) field(domain) -> uint64 count | int64 last seen
//	positions                           input key -> opaque position bytes
//	figures                             the caller's key -> opaque bytes (made by
//	                                    the first batch that has one)
//	alerts                              alert state, replaced whole by SaveAlerts;
//	  uint32 n -> the caller's opaque state  made on the first save (files
//	                                    before had field(rule) {field(label)
//	                                    field(value)} keys; only values are read)
//	checks                              the sender checks' latest results (made
//	  field(check) field(target) ->        by the first SaveChecks)
//	      int64 checked | the caller's opaque state
//	check_changes                       every change of a check's result, kept
//	  field(check) field(target) int64 time -> the caller's opaque change
//	                                    400 days and 1000 per target (PruneChecks)
//	domains                             the (source ip, recipient domain) pairs
//	  field(ip) field(domain) -> ""        kept by name; never pruned
//	domains_folded                      per source ip, the attempts counted under
//	  field(ip) -> uint64                  "other" because a bound was reached
//	mx                                  recipient domains' MX verdicts (SaveMX)
//	  domain -> byte flags (bit 0: Proofpoint) | int64 checked | int64 expires
//	                                    made on the first save
//	episodes                            block and deferral episodes (see below)
//	  int64 start | field(ip) field(domain) kind ->
//	      int64 end | uint64 blocks, deferrals, attempts |
//	      uint64 pending attempts, blocks, deferrals | int64 pending minute |
//	      uint64 transaction of its last failure |
//	      uvarint n {field(domain) uint64 failures} |
//	      uvarint n {field(response) uvarint len, reply value as in replies}
//	                                    domain "" is the IP over all domains;
//	                                    kind 'b' or 'd'; start and end unix
//	                                    microseconds, start sign-flipped
//	event_clock                         the latest event time committed
//	  "latest" -> int64 unix microseconds  (a minute's start)
//	ip_first                            per source ip, its first minute; never
//	  field(ip) -> int64 unix microseconds pruned
//	ip_days                             attempts per source ip and UTC day
//	  field(ip) int64 day -> uint64        (unix days, sign-flipped)
//	                                    the last four made by the first Apply
//	                                    that needs them
//	domains_migration                   only while a file from before the bound
//	  "phase" -> byte, "after" -> key      is folded (see below)
//
// minute is unix seconds / 60 (rounded down) as 8 bytes with the sign bit
// flipped, so that byte order is time order and Cursor.Seek gives range scans
// by time. series is field(mta) field(source ip) field(recipient domain)
// field(status) field(class) field(outcome) and one flags byte (bit 0:
// Proofpoint). Length
// prefixes make the encoding unambiguous and keep all replies of one IP, and
// of one (IP, domain) pair, under a common key prefix. Cells carry a series
// id instead of the series itself, which makes them 12-byte keys and the
// bucket less than half the size; ids come from the series_ids sequence, in
// key order of the new series of a batch.
//
// The checks' times (checked, and a change's time) are unix microseconds
// with the sign bit flipped, the same way, so that a target's changes lie
// in time order under its key prefix. The target field may be 1024 bytes
// long, not 255: a target cut short would no longer match its check. What
// the values hold is the caller's (pkg/hygiene: JSON); Open checks the
// keys and the time, and the caller drops a value it cannot read.
//
// The domain buckets are made by the first SetDomainLimits or Apply, so a
// file from before them needs no new schema version, and the series
// encoding is unchanged: a folded attempt is an ordinary series whose
// domain is "other".
//
// # The domain bound
//
// A recipient domain gets its own series and replies only while its source
// IP keeps fewer than DomainLimits.PerIP domains and the store fewer than
// DomainLimits.Total pairs (DomainLimits.Always are let in regardless); the
// pair is then recorded in domains, in the same transaction as its first
// counts, and kept for good. Every later attempt to a domain past the bound
// is counted under Other, with the same MTA, IP, status, class and outcome,
// so totals per IP and overall stay exact, and is added to the IP's
// domains_folded counter; its replies go to the (ip, "other") pair, whose
// per-pair bound and reply_overflow counter apply as to any pair. The
// writer decides as it reads (Domain), so a flood's batch holds a few
// series under "other" and not one per domain; Apply decides the pairs of
// a batch that did not go through Domain by the same rule. The writer keeps
// a copy of domains in memory (bounded by Total), loaded at the first use;
// nothing else reads every series at start.
//
// A file from before the bound is folded by the first SetDomainLimits: the
// pairs it holds are recorded in series id order (the order they were first
// seen) up to the bound; the series of the others are added to the same
// series under "other" (their ids then name it), their cells moved onto
// its id, their ids deleted, their replies and overflow counters moved to
// (ip, "other"). Each step reads at most migrationChunk keys in its own
// transaction and records in domains_migration where the next starts; every
// step leaves the counts exact, so an interrupted migration is simply
// resumed at the next open.
//
// # Episodes and IP history
//
// Apply adds each block and deferral of a batch (event.ReplyOutcome of
// the replies added with AddReply) to the episodes of its source IP over
// all domains and of its (IP, domain) pair, under the domain the bound
// gives (so per-domain episodes are bounded by it, and the rest are one
// episode under "other"), in the same transaction as the counts: a crash
// leaves both or neither, and a batch read again is added once. Blocks
// and deferrals are separate episodes (the kind is in the key). The
// failures of a key are merged by event time with the key's stored
// episodes they can join: a failure joins the episode it falls within the
// quiet period of, extends it, and joins two it bridges; else it opens
// one. The stored episodes a key's lines can join are its latest (by
// start) and its current one (the one its latest failure joined; they
// differ when a log is read out of order, as when year-less times after a
// while are taken for last year's): the writer keeps both spans of every
// key in memory and reads them by key, since a scan for older ones cost
// the catch-up more than the counts did. So the episodes do not depend on
// how the lines were cut into commits, on restarts, or on the order of
// lines within a commit; a line read later than the episodes after it,
// across commits, opens or joins episodes of its own. Keys begin with the
// start, so that the episodes a commit changes or adds, the recent ones,
// share the last pages of the bucket. An
// episode is open while its end lies less than EpisodeQuiet before the
// event clock, the latest event time committed, so a catch-up over old
// logs closes episodes as live reading did.
//
// Each episode counts its own kind's failures exactly, and from the
// batch's cells the attempts (every outcome) and the other kind in the
// minutes from its start's to its end's: a new episode takes the
// committed cells of its first minute, cells of later minutes up to its
// end are added, and cells after its end wait in the pending counters
// until a failure extends the episode past them (or are dropped with it).
// Lines read out of order across commits may move such attempts by a
// minute or leave them out; the failures and the times stay exact. Each
// keeps at most 20 domains by name (the rest under "other") and four
// replies verbatim (Space-Saving: the most frequent is kept). The writer
// keeps the start and end of each key's latest episode in memory, bounded
// as the keys are, so that a cell looks up only an episode it can join.
//
// ip_first and ip_days come from the cells: the first minute of each
// source IP (kept for good) and its attempts per UTC day (kept for
// EpisodeRetention). IPHistory computes the jumps on reading: a day of at
// least 1000 attempts over three times the median of the seven days
// before it, days since the IP was first seen only, days without attempts
// as 0.
//
// # Size and retention
//
// Each distinct series costs a cell per minute it occurs in, and two keys
// forever (series, series_ids); the domain bound keeps the series of
// Proofpoint attempts bounded, and the caller passes RecipientDomain ""
// where the domain is not needed. Prune deletes old cells, replies and overflow
// counters, then episodes that ended and IP days before EpisodeRetention
// (400 days by default), in chunks of at most maxKeys keys per
// transaction. Episodes are bounded by the keys (source IPs and the
// domains kept by name, two kinds each) times EpisodeRetention over
// EpisodeQuiet. bbolt files
// never shrink: freed pages are reused, and `bbolt compact` or "ppwatch
// state repair" (a copy of every record) makes a smaller copy offline.
//
// # Checks and damage
//
// Open checks all of an existing file before bbolt maps it (Check does the
// same for "ppwatch state check"), with plain bounds-checked reads of
// bbolt's format (verify.go): both meta pages; the file's size against the
// high-water mark the meta page gives, so a file cut short is refused; every
// page of the tree (its header, its elements within bounds, keys in order,
// each page in use once or free, none in neither); the freelist; format and
// schema; every record decoded as the methods will decode it, series ids
// consistent between series, series_ids and cells, and every position passed
// to Options.CheckPosition. The last matters most: a position the caller
// cannot decode would have its input read again from the start while the
// totals stay, a double count. bbolt's tx.Check is not used: it runs in a
// goroutine of its own, and on the first page that is not what it should be
// it panics there, where nothing can recover it. The check reads every page
// once: about a quarter of a second for 100 MiB in the page cache.
//
// A damaged file is refused with ErrDamaged; a file that is not a store
// with ErrNotStore; another schema with ErrSchema. The message names the
// file once, what is wrong, and the way out. Open never resets or changes a
// file it refuses. Only one damage is taken in silence, as bbolt takes it:
// when the newest meta page does not validate, the commit before it is
// used, whose counts and positions belong together.
//
// Damage met later (the file changed under the daemon) is caught in every
// transaction (guard.go): a bbolt panic, a fault on a page past the end of
// a cut file, a read transaction older than the last commit (a lost meta
// page), and, before each write, a meta or freelist page that is not sound
// (bbolt frees the old freelist page by its header, unchecked). Each
// becomes ErrDamaged, OnDamage is called once, and from then on every call
// fails with it without touching bbolt. Nothing is committed, nothing is
// guessed, and the process lives.
//
// Repair copies what can be read of a damaged file into a new one: the
// commit before the last if that one is whole (then nothing is lost), else
// every record of the last commit that can be read and decodes, series ids
// rebuilt from the series. Its report says what was saved, what was lost and
// what that means. What no check can see: a value changed into another
// value that still decodes (a count), since bbolt pages carry no checksum.
package store
