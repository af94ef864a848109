package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Defaults for zero Options fields and for Prune's maxKeys.
const (
	DefaultTimeout          = time.Second
	DefaultRetention        = 30 * 24 * time.Hour
	DefaultMaxRepliesPerKey = 20
	DefaultPruneKeys        = 10000
)

// schemaVersion is the layout described in doc.go. Bump it on any change to
// keys or values, and refuse files with a version this code does not know.
const schemaVersion = 1

const formatName = "ppwatch-store"

var (
	metaName      = []byte("meta")
	seriesName    = []byte("series")
	seriesIDsName = []byte("series_ids")
	bucketsName   = []byte("buckets_1m")
	repliesName   = []byte("replies")
	overflowName  = []byte("reply_overflow")
	positionsName = []byte("positions")
	// figuresName is made by the first Apply that has figures: files made
	// before it existed are read as they are.
	figuresName = []byte("figures")

	keyFormat  = []byte("format")
	keySchema  = []byte("schema")
	keyCreated = []byte("created")

	dataBuckets = [][]byte{seriesName, seriesIDsName, bucketsName, repliesName, overflowName, positionsName}
)

var (
	// ErrLocked means another process (or another Open in this one) holds the
	// state file; Open gave up after Options.Timeout.
	ErrLocked = errors.New("in use by another ppwatch")
	// ErrNotStore means the file is not a ppwatch store: not a bbolt file, a
	// corrupt one, or a bbolt file written by something else.
	ErrNotStore = errors.New("not a ppwatch state file")
	// ErrSchema means the file is a ppwatch store with a schema version this
	// build does not know, typically written by a newer ppwatch.
	ErrSchema = errors.New("unsupported state file schema")
	// ErrDamaged means the file is a ppwatch store that is damaged: Open
	// found a problem in it, or a method met one later. The message names
	// the file, what is wrong and the way out.
	ErrDamaged = errors.New("damaged")
)

// Options configure a Store. Zero fields take the Default* values.
type Options struct {
	Timeout          time.Duration // how long Open waits for the file lock
	Retention        time.Duration // age after which Prune deletes buckets and replies
	MaxRepliesPerKey int           // distinct replies kept per (source IP, recipient domain)
	// CheckPosition, when set, tells whether a saved position can be used.
	// Positions are opaque to the store; Open runs this on every one and
	// refuses the file if one fails, because the caller could only read
	// that input again from its start while the totals stay: a double count.
	CheckPosition func(key string, value []byte) error
	// EpisodeQuiet is how long, by event time, a source IP (or one of its
	// recipient domains) must go without a block (or a deferral) for its
	// episode to close; EpisodeRetention how long episodes and the IPs'
	// daily volumes are kept after they end.
	EpisodeQuiet, EpisodeRetention time.Duration
	// OnDamage, when set, is called once, by the goroutine that met it,
	// when a method first meets damage (see Damaged). It may be inside a
	// write, so it must not write to the store.
	OnDamage func(err error)
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.MaxRepliesPerKey <= 0 {
		o.MaxRepliesPerKey = DefaultMaxRepliesPerKey
	}
	if o.EpisodeQuiet <= 0 {
		o.EpisodeQuiet = DefaultEpisodeQuiet
	}
	if o.EpisodeRetention <= 0 {
		o.EpisodeRetention = DefaultEpisodeRetention
	}
	return o
}

// Store is the persistent state of ppwatch. Apply and Prune must be called
// from one writer goroutine; the read methods may be called from any.
type Store struct {
	db      *bolt.DB
	path    string
	opts    Options
	created time.Time
	fresh   bool

	file    *os.File               // read-only, for the checks before each write
	wmu     sync.Mutex             // one write transaction at a time; see update
	lastTx  atomic.Uint64          // the last transaction committed or opened
	broken  atomic.Pointer[damage] // set once damage is met
	domains domainIndex
	latest  episodeIndex
}

// Open opens the store at path, creating it if the file does not exist. It
// first checks all of an existing file (see Check). It fails with an error
// wrapping ErrLocked if the file stays locked for opts.Timeout, ErrNotStore
// if the file is not a ppwatch store, ErrSchema if its schema is unknown
// and ErrDamaged if it is damaged; each names the file once and says the
// way out. Open never resets or changes an existing file it refuses.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := checkBeforeOpen(path, opts); err != nil {
		return nil, err
	}
	db, err := openBolt(path, opts)
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("state file %s: %w (no lock within %s)", path, ErrLocked, opts.Timeout)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
			return nil, fmt.Errorf("state file %s: %w: %w; %s", path, ErrNotStore, err, notStoreWayOut)
		case errors.Is(err, ErrDamaged):
			return nil, err
		}
		return nil, fmt.Errorf("state file %s: open: %w", path, err)
	}
	s := &Store{db: db, path: path, opts: opts}
	if s.file, err = os.Open(path); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if err := s.init(); err != nil {
		if s.Damaged() != nil {
			_ = s.closeDamaged()
			return nil, err
		}
		_ = s.file.Close()
		_ = db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return s, nil
}

// checkBeforeOpen runs Check on an existing file under a shared lock, which
// it lets go before bbolt takes its own: bbolt would fault on a page past
// the end of a file cut short before any of its checks.
func checkBeforeOpen(path string, opts Options) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // bbolt creates it
	}
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	defer f.Close()
	if err := lockShared(f, opts.Timeout); err != nil {
		return fmt.Errorf("state file %s: %w (no lock within %s)", path, ErrLocked, opts.Timeout)
	}
	_, err = check(f, path, opts)
	return err
}

// openBolt is bolt.Open, with a panic or fault in it (a file changed
// between the check and the open) turned into ErrDamaged.
func openBolt(path string, opts Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("state file %s: %w: opening it failed: %v; %s", path, ErrDamaged, r, repairWayOut)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout})
}

// init checks the meta bucket, or creates the layout in a file that has no
// buckets at all: a new file, or one left by a crash between bbolt's own
// initialisation and our first commit. Neither holds anything to lose.
func (s *Store) init() error {
	empty := false
	err := s.view(func(tx *bolt.Tx) error {
		s.lastTx.Store(uint64(tx.ID()))
		var m metaRecords
		if meta := tx.Bucket(metaName); meta != nil {
			m = metaRecords{found: true, format: meta.Get(keyFormat), schema: meta.Get(keySchema), created: meta.Get(keyCreated)}
		} else {
			empty = true
			_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				empty, m.other = false, string(name)
				return errors.New("stop")
			})
		}
		if err := m.check(); err != nil || empty {
			return err
		}
		for _, name := range dataBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: bucket %s missing", ErrNotStore, name)
			}
		}
		us, _ := decodeUint64(m.created)
		s.created = time.UnixMicro(int64(us)).UTC()
		return nil
	})
	if err != nil || !empty {
		return err
	}

	created := time.Now().UTC()
	err = s.update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(metaName)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte(formatName)); err != nil {
			return err
		}
		if err := meta.Put(keySchema, encodeUint64(schemaVersion)); err != nil {
			return err
		}
		if err := meta.Put(keyCreated, encodeUint64(uint64(created.UnixMicro()))); err != nil {
			return err
		}
		for _, name := range dataBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create store: %w", err)
	}
	// The commit synced the file; sync the directory too so that the new
	// file's entry survives a power loss (etcd-io/etcd#16596).
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("create store: %w", err)
	}
	s.created = created.Truncate(time.Microsecond)
	s.fresh = true
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close closes the store. Calling it again is harmless.
func (s *Store) Close() error {
	if s.Damaged() != nil {
		return s.closeDamaged()
	}
	s.file.Close()
	return s.db.Close()
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Created returns when the store was created; Totals count from then.
func (s *Store) Created() time.Time { return s.created }

// Fresh reports whether Open created the store rather than opening an
// existing one.
func (s *Store) Fresh() bool { return s.fresh }

// Apply commits a batch in one bbolt transaction: bucket counts, totals,
// replies, episodes and IP history, the recipient domains it lets in (see Domain; pairs that did not
// go through Domain are let in or folded here, under the same bound) and
// input positions. It is all-or-nothing: on any error, including
// a failed commit on a full disk, nothing of the batch is stored, the store
// stays usable, and the caller keeps the batch and applies it again later.
// Apply does not modify b.
func (s *Store) Apply(b *Batch) error {
	if b == nil || len(b.Counts)+len(b.Replies)+len(b.Positions)+len(b.Figures) == 0 {
		return nil
	}
	if err := s.loadDomains(); err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	if err := s.loadEpisodeIndex(); err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	adm := s.admit(b)
	counts, replies := adm.apply(b)
	var eps *episodeWork
	err := s.update(func(tx *bolt.Tx) error {
		// Before the counts: a new episode takes the committed cells of
		// its first minute, which must not hold this batch's yet.
		var err error
		if eps, err = s.applyEpisodes(tx, b, counts, adm); err != nil {
			return err
		}
		if err := applyCounts(tx, counts); err != nil {
			return err
		}
		if err := s.applyReplies(tx, replies); err != nil {
			return err
		}
		if err := adm.store(tx); err != nil {
			return err
		}
		if err := applyPositions(tx, b.Positions); err != nil {
			return err
		}
		return applyFigures(tx, b.Figures)
	})
	if err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	s.domains.commit(adm)
	s.latest.commit(eps)
	return nil
}

func applyCounts(tx *bolt.Tx, counts map[BucketKey]uint64) error {
	// Resolve each series of the batch once: a batch has many minutes of the
	// same few series.
	deltas := make(map[Series]uint64)
	for k, n := range counts {
		if n > 0 {
			deltas[k.Series] += n
		}
	}
	ids, err := addTotals(tx, deltas)
	if err != nil {
		return err
	}

	bk := tx.Bucket(bucketsName)
	// Cells are keyed by time and mostly appended at the end; bbolt's default
	// of splitting pages half full would leave this, the biggest bucket,
	// half empty. The setting lives only for this transaction.
	bk.FillPercent = 0.9
	// bbolt keeps a reference to each value until the commit, so values get
	// their own memory; one slab saves an allocation per key.
	slab := make([]byte, 0, 8*len(counts))
	// Put in key order: bbolt then appends to its nodes instead of moving
	// their entries for every insert (a map's random order cost a quarter of
	// the daemon's time when it catches up).
	type cell struct {
		key [12]byte
		n   uint64
	}
	cells := make([]cell, 0, len(counts))
	for k, n := range counts {
		if n == 0 {
			continue
		}
		var c cell
		putCellKey(c.key[:], k.Minute, ids[k.Series])
		c.n = n
		cells = append(cells, c)
	}
	sort.Slice(cells, func(i, j int) bool { return bytes.Compare(cells[i].key[:], cells[j].key[:]) < 0 })
	for i := range cells {
		key, n := cells[i].key[:], cells[i].n
		var cur uint64
		if v := bk.Get(key); v != nil {
			if cur, err = decodeUint64(v); err != nil {
				return corrupt(string(bucketsName), key, err)
			}
		}
		start := len(slab)
		slab = binary.BigEndian.AppendUint64(slab, cur+n)
		if err := bk.Put(key, slab[start:len(slab):len(slab)]); err != nil {
			return err
		}
	}
	return nil
}

// addTotals adds the deltas to the series totals, gives new series an id,
// and returns the id of every series in deltas.
func addTotals(tx *bolt.Tx, deltas map[Series]uint64) (map[Series]uint32, error) {
	// Sorted, so that new series get ids in the same order on every run.
	type entry struct {
		series Series
		enc    []byte
	}
	entries := make([]entry, 0, len(deltas))
	for series := range deltas {
		entries = append(entries, entry{series, appendSeries(nil, series)})
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.enc, b.enc) })

	sb := tx.Bucket(seriesName)
	ib := tx.Bucket(seriesIDsName)
	ib.FillPercent = 0.9 // ids only grow, so this bucket is append-only
	ids := make(map[Series]uint32, len(deltas))
	for _, e := range entries {
		var id uint32
		var total uint64
		if v := sb.Get(e.enc); v != nil {
			var err error
			if id, total, err = decodeSeriesValue(v); err != nil {
				return nil, corrupt(string(seriesName), e.enc, err)
			}
		} else {
			seq, err := ib.NextSequence()
			if err != nil {
				return nil, err
			}
			if seq > math.MaxUint32 {
				return nil, fmt.Errorf("more than %d series", uint32(math.MaxUint32))
			}
			id = uint32(seq)
			if err := ib.Put(idKey(id), e.enc); err != nil {
				return nil, err
			}
		}
		if err := sb.Put(e.enc, encodeSeriesValue(id, total+deltas[e.series])); err != nil {
			return nil, err
		}
		ids[e.series] = id
	}
	return ids, nil
}

func (s *Store) applyReplies(tx *bolt.Tx, replies map[ReplyKey]*Reply) error {
	if len(replies) == 0 {
		return nil
	}
	rb := tx.Bucket(repliesName)
	ob := tx.Bucket(overflowName)
	// Earliest first, so that when a pair reaches its bound the replies kept
	// are the ones seen first, whatever the map order.
	keys := make([]ReplyKey, 0, len(replies))
	for k, r := range replies {
		if r != nil && r.Count > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b ReplyKey) int {
		if c := replies[a].FirstSeen.Compare(replies[b].FirstSeen); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.SourceIP, b.SourceIP), cmp.Compare(a.RecipientDomain, b.RecipientDomain), cmp.Compare(a.Response, b.Response))
	})

	stored := make(map[string]int) // pair key -> distinct replies stored
	for _, k := range keys {
		d := replies[k]
		key := replyKey(k)
		if v := rb.Get(key); v != nil {
			var cur Reply
			if err := decodeReplyValue(v, &cur); err != nil {
				return corrupt(string(repliesName), key, err)
			}
			mergeReply(&cur, d)
			if err := rb.Put(key, encodeReplyValue(&cur)); err != nil {
				return err
			}
			continue
		}

		pair := pairKey(k.SourceIP, k.RecipientDomain)
		n, ok := stored[string(pair)]
		if !ok {
			n = countPrefix(rb, pair, s.opts.MaxRepliesPerKey)
		}
		if n >= s.opts.MaxRepliesPerKey {
			stored[string(pair)] = n
			if err := addOverflow(ob, pair, d); err != nil {
				return err
			}
			continue
		}
		r := *d
		r.FirstSeen, r.LastSeen = r.FirstSeen.UTC(), r.LastSeen.UTC()
		if err := rb.Put(key, encodeReplyValue(&r)); err != nil {
			return err
		}
		stored[string(pair)] = n + 1
	}
	return nil
}

// mergeReply adds delta d to cur. Codes and class follow the latest sighting.
func mergeReply(cur, d *Reply) {
	cur.Count += d.Count
	if d.FirstSeen.Before(cur.FirstSeen) {
		cur.FirstSeen = d.FirstSeen.UTC()
	}
	if !d.LastSeen.Before(cur.LastSeen) {
		cur.LastSeen = d.LastSeen.UTC()
		cur.SMTPCode, cur.EnhancedCode, cur.Class = d.SMTPCode, d.EnhancedCode, d.Class
	}
}

// countPrefix counts keys starting with prefix, stopping at limit.
func countPrefix(b *bolt.Bucket, prefix []byte, limit int) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n < limit; k, _ = c.Next() {
		n++
	}
	return n
}

func addOverflow(ob *bolt.Bucket, pair []byte, d *Reply) error {
	var n uint64
	last := d.LastSeen
	if v := ob.Get(pair); v != nil {
		var prev time.Time
		var err error
		if n, prev, err = decodeOverflow(v); err != nil {
			return corrupt(string(overflowName), pair, err)
		}
		if prev.After(last) {
			last = prev
		}
	}
	return ob.Put(pair, encodeOverflow(n+d.Count, last))
}

// Totals returns the count of every series since the store was created.
// Retention does not touch them, so they can back Prometheus counters that
// survive restarts.
func (s *Store) Totals() (map[Series]uint64, error) {
	out := make(map[Series]uint64)
	if err := s.EachTotal(func(series Series, n uint64) { out[series] = n }); err != nil {
		return nil, err
	}
	return out, nil
}

// EachTotal calls fn with each series and its total, in key order, without
// collecting them: the daemon's start then holds its aggregate and not a
// second copy of every series. fn runs inside a read transaction and must
// not use the store.
func (s *Store) EachTotal(fn func(Series, uint64)) error {
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(seriesName).ForEach(func(k, v []byte) error {
			series, err := decodeSeries(k)
			if err != nil {
				return corrupt(string(seriesName), k, err)
			}
			_, n, err := decodeSeriesValue(v)
			if err != nil {
				return corrupt(string(seriesName), k, err)
			}
			fn(series, n)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read totals: %w", err)
	}
	return nil
}

// readChunk bounds how many cells Buckets reads per read transaction.
const readChunk = 4096

type cell struct {
	minute int64
	series Series
	n      uint64
}

// Buckets calls fn for every counter cell whose minute overlaps [from, to),
// in time order (within a minute, in the order the series were first seen). It reads in chunks, each in
// its own short read transaction, and calls fn outside any transaction; so a
// scan concurrent with Apply is not one snapshot, but fn may do anything,
// including calling the store.
func (s *Store) Buckets(from, to time.Time, fn func(minute int64, s Series, n uint64)) error {
	return s.buckets(from, to, nil, fn)
}

// IPBuckets is Buckets for the series of one source IP ("" is the unknown
// IP). It finds the IP's series ids first, so the cells of other IPs are
// skipped by their id, not decoded: a page about one IP does not pay for
// the 50,000 domains of the others.
func (s *Store) IPBuckets(from, to time.Time, sourceIP string, fn func(minute int64, s Series, n uint64)) error {
	ids := map[uint32]bool{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(seriesIDsName).ForEach(func(k, v []byte) error {
			ip, err := seriesIP(v)
			if err != nil || len(k) != 4 {
				return corrupt(string(seriesIDsName), k, errCorrupt)
			}
			if string(ip) == sourceIP {
				ids[binary.BigEndian.Uint32(k)] = true
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read series ids: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	return s.buckets(from, to, ids, fn)
}

// buckets is Buckets for the cells whose series id is in only (every cell
// when only is nil).
func (s *Store) buckets(from, to time.Time, only map[uint32]bool, fn func(minute int64, s Series, n uint64)) error {
	start := minuteKey(MinuteOf(from))
	end := minuteKey(ceilMinute(to))
	names := make(map[uint32]Series) // series by id, filled as ids are met
	cells := make([]cell, 0, readChunk)
	for bytes.Compare(start, end) < 0 {
		cells = cells[:0]
		var next []byte
		err := s.view(func(tx *bolt.Tx) error {
			ib := tx.Bucket(seriesIDsName)
			c := tx.Bucket(bucketsName).Cursor()
			for k, v := c.Seek(start); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
				if len(cells) == readChunk {
					next = bytes.Clone(k)
					return nil
				}
				if len(k) != 12 {
					return corrupt(string(bucketsName), k, errCorrupt)
				}
				id := binary.BigEndian.Uint32(k[8:])
				if only != nil && !only[id] {
					continue
				}
				series, ok := names[id]
				if !ok {
					enc := ib.Get(k[8:])
					if enc == nil {
						return corrupt(string(bucketsName), k, fmt.Errorf("unknown series id %d", id))
					}
					var err error
					if series, err = decodeSeries(enc); err != nil {
						return corrupt(string(seriesIDsName), k[8:], err)
					}
					names[id] = series
				}
				n, err := decodeUint64(v)
				if err != nil {
					return corrupt(string(bucketsName), k, err)
				}
				cells = append(cells, cell{minute: getMinute(k), series: series, n: n})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read buckets: %w", err)
		}
		for _, c := range cells {
			fn(c.minute, c.series, c.n)
		}
		if next == nil {
			return nil
		}
		start = next
	}
	return nil
}

// Replies returns the stored replies of sourceIP, or of all source IPs if
// sourceIP is "", by count descending, then by key.
func (s *Store) Replies(sourceIP string) ([]Reply, error) {
	var out []Reply
	if err := s.EachReply(sourceIP, func(r Reply) { out = append(out, r) }); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Reply) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count),
			cmp.Compare(a.SourceIP, b.SourceIP),
			cmp.Compare(a.RecipientDomain, b.RecipientDomain),
			cmp.Compare(a.Response, b.Response))
	})
	return out, nil
}

// EachReply calls fn with each distinct Proofpoint reply of sourceIP (of
// every IP when it is ""), in key order, without collecting them: with
// 100,000 recipient domains an IP has as many replies. fn runs inside a
// read transaction and must not use the store.
func (s *Store) EachReply(sourceIP string, fn func(Reply)) error {
	return s.eachReply(ipPrefix(sourceIP), fn)
}

// EachReplyOfAll is EachReply over every source IP.
func (s *Store) EachReplyOfAll(fn func(Reply)) error { return s.eachReply(nil, fn) }

// EachPairReply is EachReply for one (source IP, recipient domain) pair;
// sourceIP "" is the unknown IP here.
func (s *Store) EachPairReply(sourceIP, domain string, fn func(Reply)) error {
	return s.eachReply(pairKey(sourceIP, domain), fn)
}

// EachIPReply is EachReply for one source IP only; sourceIP "" is the
// unknown IP here, not every IP.
func (s *Store) EachIPReply(sourceIP string, fn func(Reply)) error {
	return s.eachReply(replyPrefix(sourceIP), fn)
}

func (s *Store) eachReply(prefix []byte, fn func(Reply)) error {
	err := s.view(func(tx *bolt.Tx) error {
		return scanPrefix(tx.Bucket(repliesName), prefix, func(k, v []byte) error {
			rk, err := decodeReplyKey(k)
			if err != nil {
				return corrupt(string(repliesName), k, err)
			}
			r := Reply{SourceIP: rk.SourceIP, RecipientDomain: rk.RecipientDomain, Response: rk.Response}
			if err := decodeReplyValue(v, &r); err != nil {
				return corrupt(string(repliesName), k, err)
			}
			callerFn(fn, r)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read replies: %w", err)
	}
	return nil
}

// Overflow counts the replies of one (source IP, recipient domain) pair that
// were not stored because the pair already had MaxRepliesPerKey replies.
type Overflow struct {
	SourceIP, RecipientDomain string
	Count                     uint64
	LastSeen                  time.Time // UTC
}

// ReplyOverflow returns the overflow counters of sourceIP, or of all source
// IPs if sourceIP is "", by count descending, then by key.
func (s *Store) ReplyOverflow(sourceIP string) ([]Overflow, error) {
	var out []Overflow
	err := s.view(func(tx *bolt.Tx) error {
		return scanPrefix(tx.Bucket(overflowName), ipPrefix(sourceIP), func(k, v []byte) error {
			ip, domain, err := decodePairKey(k)
			if err != nil {
				return corrupt(string(overflowName), k, err)
			}
			n, last, err := decodeOverflow(v)
			if err != nil {
				return corrupt(string(overflowName), k, err)
			}
			out = append(out, Overflow{SourceIP: ip, RecipientDomain: domain, Count: n, LastSeen: last})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read reply overflow: %w", err)
	}
	slices.SortFunc(out, func(a, b Overflow) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count),
			cmp.Compare(a.SourceIP, b.SourceIP),
			cmp.Compare(a.RecipientDomain, b.RecipientDomain))
	})
	return out, nil
}

// scanPrefix calls fn for the keys that start with prefix (all keys when it
// is empty).
func scanPrefix(b *bolt.Bucket, prefix []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// ipPrefix is the key prefix of one source IP's replies or overflow
// counters; nil (every key) for "".
func ipPrefix(ip string) []byte {
	if ip == "" {
		return nil
	}
	return replyPrefix(ip)
}

// Prune deletes, in one transaction, at most maxKeys (DefaultPruneKeys if
// maxKeys <= 0) of: bucket cells whose minute lies wholly before
// now - Retention, then replies and overflow counters last seen before it,
// then episodes that ended and IP days that lie before now -
// EpisodeRetention. It returns how many it deleted; call it again until that is below maxKeys.
// Small chunks keep each commit short (etcd-io/bbolt#401). Totals are not
// touched. The file does not shrink, but freed pages are reused.
func (s *Store) Prune(now time.Time, maxKeys int) (deleted int, err error) {
	if maxKeys <= 0 {
		maxKeys = DefaultPruneKeys
	}
	cutoff := now.Add(-s.opts.Retention)
	end := minuteKey(MinuteOf(cutoff))
	err = s.update(func(tx *bolt.Tx) error {
		deleted = 0
		// Collect first, then delete: deleting under a live cursor can skip
		// keys (etcd-io/bbolt#611).
		var old [][]byte
		bk := tx.Bucket(bucketsName)
		c := bk.Cursor()
		for k, _ := c.First(); k != nil && len(old) < maxKeys && bytes.Compare(k, end) < 0; k, _ = c.Next() {
			old = append(old, bytes.Clone(k))
		}
		n, err := deleteKeys(bk, old)
		deleted += n
		if err != nil {
			return err
		}

		rb := tx.Bucket(repliesName)
		old, err = collectOld(rb, repliesName, maxKeys-deleted, cutoff, func(v []byte) (time.Time, error) {
			var r Reply
			err := decodeReplyValue(v, &r)
			return r.LastSeen, err
		})
		if err != nil {
			return err
		}
		n, err = deleteKeys(rb, old)
		deleted += n
		if err != nil {
			return err
		}

		ob := tx.Bucket(overflowName)
		old, err = collectOld(ob, overflowName, maxKeys-deleted, cutoff, func(v []byte) (time.Time, error) {
			_, last, err := decodeOverflow(v)
			return last, err
		})
		if err != nil {
			return err
		}
		n, err = deleteKeys(ob, old)
		deleted += n
		if err != nil {
			return err
		}
		n, err = s.pruneEpisodes(tx, now, maxKeys-deleted)
		deleted += n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	return deleted, nil
}

// collectOld returns up to limit keys of b whose last-seen time is before
// cutoff. The scan covers the whole bucket; replies are few next to buckets.
func collectOld(b *bolt.Bucket, name []byte, limit int, cutoff time.Time, lastSeen func(v []byte) (time.Time, error)) ([][]byte, error) {
	var old [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil && len(old) < limit; k, v = c.Next() {
		last, err := lastSeen(v)
		if err != nil {
			return nil, corrupt(string(name), k, err)
		}
		if last.Before(cutoff) {
			old = append(old, bytes.Clone(k))
		}
	}
	return old, nil
}

func deleteKeys(b *bolt.Bucket, keys [][]byte) (int, error) {
	for i, k := range keys {
		if err := b.Delete(k); err != nil {
			return i, err
		}
	}
	return len(keys), nil
}

// Size returns the size of the state file in bytes. bbolt files never
// shrink; see FreeBytes for the reusable part.
func (s *Store) Size() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// FreeBytes returns the bytes in free pages, which later commits reuse
// before the file grows.
func (s *Store) FreeBytes() int64 {
	return int64(s.db.Stats().FreeAlloc)
}

// applyPositions and applyFigures put a batch's keys (nil deletes one);
// the figures bucket is made by the first batch that has one.
func applyPositions(tx *bolt.Tx, positions map[string][]byte) error {
	return putKeys(tx.Bucket(positionsName), "position", positions)
}

func applyFigures(tx *bolt.Tx, figures map[string][]byte) error {
	if len(figures) == 0 {
		return nil
	}
	fb, err := tx.CreateBucketIfNotExists(figuresName)
	if err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	return putKeys(fb, "figure", figures)
}

func putKeys(b *bolt.Bucket, what string, kv map[string][]byte) error {
	for k, v := range kv {
		var err error
		if v == nil {
			err = b.Delete([]byte(k))
		} else {
			err = b.Put([]byte(k), bytes.Clone(v))
		}
		if err != nil {
			return fmt.Errorf("%s %q: %w", what, k, err)
		}
	}
	return nil
}

// Positions returns a copy of all stored input positions.
func (s *Store) Positions() (map[string][]byte, error) { return s.copyBucket(positionsName) }

// Figures returns a copy of the caller's stored figures.
func (s *Store) Figures() (map[string][]byte, error) { return s.copyBucket(figuresName) }

// copyBucket returns a copy of a bucket of opaque values; none when it
// does not exist yet.
func (s *Store) copyBucket(name []byte) (map[string][]byte, error) {
	out := make(map[string][]byte)
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(name)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}
