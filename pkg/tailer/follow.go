package tailer

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// follower owns one key: a path given as input or matched by a glob.
type follower struct {
	input string
	path  string
	glob  bool    // dropped once its file is finished and the path is gone
	drain *source // a rotated or copied file to finish before live
	live  *source // the file followed at path

	// want is the position to open the path's file at once the drain is
	// done (a file renamed onto this path while we were stopped), and
	// wantFrom the key that position was saved under.
	want     *Position
	wantFrom string
	// next are rotated files newer than the drain (or the retired file),
	// oldest first, to read whole before the path's file.
	next []FileInfo
	// since is the newest modification time of the files read whole under
	// this key: an Open for an empty file must not name an earlier time, or
	// a restart would read them again (see Position.EmptySince).
	since time.Time
}

// retired remembers a file that was closed at a non-zero offset (or a
// truncated file's old content), so that if it shows up under a watched path
// it is resumed there instead of read again from 0.
type retired struct {
	dev, ino uint64
	head     []byte
	off      int64
	copy     bool // the old content of a truncated file: match by head alone
	at       time.Time
}

type fileKey struct{ dev, ino uint64 }

type scanned struct {
	input string
	glob  bool
	key   fileKey
}

type scanResult struct {
	paths  map[string]scanned
	sorted []string
	byIno  map[fileKey]string
}

// copyWait is how many polls a new file that starts like a followed one waits
// for that one to be truncated (a copytruncate in progress) before it is read
// from 0 as a file of its own.
const copyWait = 3

// scan expands the inputs: regular files only, compressed names skipped for
// globs, the first input to name a path owns it.
func (t *Tailer) scan() scanResult {
	r := scanResult{paths: map[string]scanned{}, byIno: map[fileKey]string{}}
	for _, in := range t.inputs {
		matches := []string{in.pattern}
		if in.glob {
			matches, _ = filepath.Glob(in.pattern) // the pattern was checked in New
		}
		for _, p := range matches {
			if _, dup := r.paths[p]; dup || (in.glob && (isGzip(p) || !readableRotation(p))) {
				continue
			}
			st, err := os.Stat(p)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					t.warnOnce(p, "stat failed", err)
				}
				continue
			}
			t.clearWarn(p, "stat failed")
			if !st.Mode().IsRegular() {
				continue
			}
			dev, ino := devIno(st)
			k := fileKey{dev, ino}
			r.paths[p] = scanned{input: in.pattern, glob: in.glob, key: k}
			if _, ok := r.byIno[k]; !ok {
				r.byIno[k] = p
			}
		}
	}
	for p := range r.paths {
		r.sorted = append(r.sorted, p)
	}
	sort.Strings(r.sorted)
	return r
}

// inputFor returns the input that covers path.
func (t *Tailer) inputFor(path string) (input, bool) {
	for _, in := range t.inputs {
		if in.pattern == path {
			return in, true
		}
		if ok, _ := filepath.Match(in.pattern, path); in.glob && ok {
			return in, true
		}
	}
	return input{}, false
}

func (t *Tailer) addFollower(path string, in input) *follower {
	if f := t.followers[path]; f != nil {
		return f
	}
	f := &follower{input: in.pattern, path: path, glob: in.glob}
	t.followers[path] = f
	delete(t.deferred, path)
	return f
}

// inUse reports whether some follower has the file open already.
func (t *Tailer) inUse(dev, ino uint64) bool {
	for _, f := range t.followers {
		for _, s := range []*source{f.drain, f.live} {
			if s != nil && s.gz == nil && s.dev == dev && s.ino == ino {
				return true
			}
		}
	}
	return false
}

// start makes the restart decisions for the saved positions (see Decide) and
// opens the first files. Positions move between keys only through a Header
// for the new key sent before the Gone for the old one, so a crash between
// the two leaves both keys naming the same file, which the next start
// resolves, rather than neither.
func (t *Tailer) start() {
	defer t.updateHealth()
	t.files = t.scan()
	infos := map[string]*FileInfo{}
	info := func(p string) *FileInfo {
		if fi, ok := infos[p]; ok {
			return fi
		}
		fi, err := statFile(p)
		if err != nil {
			infos[p] = nil
			return nil
		}
		fi.Watched = t.watched(p)
		fi.Named = t.named(fi)
		infos[p] = &fi
		return &fi
	}
	type claim struct {
		pos  Position
		from string
	}
	type drainPlan struct {
		fi  FileInfo
		pos Position
	}
	claims := map[string]claim{}     // watched path → saved position to resume it at
	drains := map[string]drainPlan{} // key → rotated file to finish first
	wholes := map[string][]string{}  // key → rotated files to read whole, before its file
	var gone []Position              // keys to delete
	var parked []Position
	keys := make([]string, 0, len(t.saved))
	for k := range t.saved {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	now := stamp(t.cfg.Now())

	// First every key whose own file is still there, and the parked ones.
	var rest []string
	for _, k := range keys {
		pos := t.saved[k]
		if _, ok := t.inputFor(k); !ok {
			switch (Restart{Saved: pos, Now: now, ParkFor: t.cfg.ParkFor}).Decide().Action {
			case Drop:
				t.log.Info().Str("path", k).Time("parked", pos.Parked).Msg("saved position dropped: path not in inputs for too long")
				gone = append(gone, pos)
			default:
				parked = append(parked, pos)
			}
			continue
		}
		// A file saved empty is looked at with what was rotated next to it.
		if _, ok := t.files.paths[k]; ok && pos.EmptySince.IsZero() {
			if fi := info(k); fi != nil && Decide(pos, fi, nil).Action == Resume {
				claims[k] = claim{pos, k}
				continue
			}
		}
		rest = append(rest, k)
	}
	kept, over := keepParked(parked, t.cfg.ParkMax, now)
	for _, pos := range over {
		t.log.Info().Str("path", pos.Path).Int("kept", t.cfg.ParkMax).Msg("saved position dropped: too many paths not in inputs")
		gone = append(gone, pos)
	}
	for _, pos := range kept {
		if t.saved[pos.Path].Parked.IsZero() {
			t.log.Info().Str("path", pos.Path).Int64("offset", pos.Offset).Msg("path not in inputs: its saved position is kept")
			t.pending = append(t.pending, Line{Kind: ParkKind, Path: pos.Path, Pos: pos})
		}
	}

	// Then look for the others under watched paths nobody claimed and
	// rotated names.
	for _, k := range rest {
		pos := t.saved[k]
		var cands []FileInfo
		dup := false
		for _, p := range t.files.sorted {
			if p == k {
				continue
			}
			if c, ok := claims[p]; ok {
				fi := info(p)
				if c.pos.ID.Dev == pos.ID.Dev && c.pos.ID.Inode == pos.ID.Inode && fi != nil && sameInode(pos.ID, *fi) && holds(pos, *fi) {
					// Renamed to p, and p's position already says so:
					// a crash between the Header and the Gone.
					dup = true
					if pos.Offset > c.pos.Offset {
						claims[p] = claim{pos, c.from}
					}
					break
				}
				continue
			}
			if fi := info(p); fi != nil {
				cands = append(cands, *fi)
			}
		}
		if dup {
			gone = append(gone, pos)
			continue
		}
		for _, c := range rotatedNames(k) {
			if _, watched := t.files.paths[c]; watched {
				continue
			}
			if fi := info(c); fi != nil {
				cands = append(cands, *fi)
			}
		}
		var cur *FileInfo
		if _, ok := t.files.paths[k]; ok {
			cur = info(k)
		}
		d := Restart{Saved: pos, Input: true, Current: cur, Rotated: cands}.Decide()
		if len(d.Whole) > 0 {
			wholes[k] = d.Whole
		}
		switch {
		case d.Action == Resume:
			if d.Lost {
				t.lost.Add(1)
				t.log.Warn().Str("path", k).Msg("file last seen empty was written to and emptied, and no copy of it was found: its lines are lost")
			}
			claims[k] = claim{pos, k}
		case d.Action == Finish && t.watched(d.From):
			t.log.Info().Str("path", k).Str("to", d.From).Int64("offset", pos.Offset).Msg("file was renamed while stopped")
			claims[d.From] = claim{pos, k}
		case d.Action == Finish:
			t.log.Info().Str("path", k).Str("rotated", d.From).Int64("offset", pos.Offset).Msg("finishing file rotated while stopped")
			drains[k] = drainPlan{*info(d.From), pos}
		default:
			t.lost.Add(1)
			t.log.Warn().Str("path", k).Int64("offset", pos.Offset).Msg("saved file not found, its unread lines are lost")
			if len(d.Whole) == 0 {
				gone = append(gone, pos)
			}
		}
	}

	for _, in := range t.inputs {
		if !in.glob {
			t.addFollower(in.pattern, in)
		}
	}
	for _, p := range t.files.sorted {
		sc := t.files.paths[p]
		t.addFollower(p, input{sc.input, sc.glob})
	}
	for k := range wholes {
		in, _ := t.inputFor(k)
		t.addFollower(k, in)
	}
	for k := range drains {
		in, _ := t.inputFor(k)
		t.addFollower(k, in)
	}
	setNext := func(f *follower) {
		for _, p := range wholes[f.path] {
			f.next = append(f.next, *info(p))
			if m := infos[p].ModTime; m.After(f.since) {
				f.since = m
			}
		}
	}

	// Claims in an order that never overwrites a key before the position
	// it holds has moved on.
	var moves []edge
	for p, c := range claims {
		moves = append(moves, edge{from: c.from, to: p})
	}
	for _, m := range orderEdges(moves) {
		f := t.followers[m.to]
		c := claims[m.to]
		goneAfter := ""
		if _, claimed := claims[c.from]; c.from != m.to && !claimed {
			goneAfter = c.from
		}
		// Kept on the follower until the open succeeds: after its drain, or
		// at a later poll if the file cannot be opened right now.
		f.want, f.wantFrom = &c.pos, goneAfter
		if _, ok := drains[m.to]; ok {
			continue
		}
		if setNext(f); !t.drainNext(f) {
			t.openLive(f, f.want, f.wantFrom)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(drains)) {
		f := t.followers[k]
		setNext(f)
		t.openDrain(f, drains[k].fi, drains[k].pos)
	}
	for _, k := range slices.Sorted(maps.Keys(wholes)) {
		if _, claimed := claims[k]; claimed {
			continue
		}
		if _, ok := drains[k]; !ok {
			f := t.followers[k]
			setNext(f)
			t.drainNext(f)
		}
	}
	for _, k := range t.sortedFollowers() {
		if f := t.followers[k]; f.live == nil && f.drain == nil && f.want == nil {
			t.openLive(f, nil, "")
		}
	}
	for _, pos := range gone {
		if _, claimed := claims[pos.Path]; !claimed {
			t.queueGone(pos.Path, pos.Path, pos)
		}
	}
}

// named reports whether a saved position names fi (its inode and first
// bytes) or the file is open here: what it holds up to there was counted.
func (t *Tailer) named(fi FileInfo) bool {
	for _, p := range t.saved {
		if sameInode(p.ID, fi) && holds(p, fi) {
			return true
		}
	}
	return t.inUse(fi.Dev, fi.Inode)
}

// keepParked stamps the positions parked now and splits them into those
// kept and those over the bound max: the most recently parked are kept
// (ties by path).
func keepParked(parked []Position, max int, now time.Time) (kept, over []Position) {
	out := make([]Position, len(parked))
	for i, p := range parked {
		if p.Parked.IsZero() {
			p.Parked = now
		}
		out[i] = p
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Parked.Equal(out[j].Parked) {
			return out[i].Parked.After(out[j].Parked)
		}
		return out[i].Path < out[j].Path
	})
	if len(out) <= max {
		return out, nil
	}
	return out[:max], out[max:]
}

func (t *Tailer) watched(path string) bool {
	_, ok := t.files.paths[path]
	return ok
}

// openLive opens the file at f.path to follow it: at want if given (checked
// again: the file must still hold it), else at the offset of a retired file it
// turns out to be, else at 0. goneAfter is a key whose position moves here.
func (t *Tailer) openLive(f *follower, want *Position, goneAfter string) {
	file, fi, err := openFile(f.path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			t.warnOnce(f.path, "open failed", err)
		}
		return
	}
	t.clearWarn(f.path, "open failed")
	if t.inUse(fi.Dev, fi.Inode) {
		file.Close()
		return
	}
	var off int64
	switch {
	case want != nil && holds(*want, fi):
		off = want.Offset
	case want != nil:
		t.lost.Add(1)
		t.log.Warn().Str("path", f.path).Int64("offset", want.Offset).Msg("file changed before it could be resumed, its unread lines are lost")
	default:
		if r, ok := t.adopt(fi); ok {
			t.log.Info().Str("path", f.path).Int64("offset", r.off).Msg("resuming a file seen under another name")
			off = r.off
		}
	}
	s, err := newFollowed(file, fi, off, t.cfg.MaxLine)
	if err != nil {
		file.Close()
		t.warnOnce(f.path, "open failed", err)
		return
	}
	f.live = s
	f.want, f.wantFrom = nil, ""
	if off > 0 {
		t.queueHeader(f, s)
	} else {
		t.queueOpen(f, s)
	}
	if goneAfter != "" && want != nil {
		t.queueGone(goneAfter, goneAfter, *want)
	}
}

// openDrain starts finishing a rotated or copied file under f's key.
func (t *Tailer) openDrain(f *follower, fi FileInfo, pos Position) {
	s, err := newDrain(fi, pos, t.cfg.MaxLine)
	if err != nil {
		t.lost.Add(1)
		t.log.Warn().Str("path", f.path).Str("rotated", fi.Path).Err(err).Msg("rotated file unreadable, its unread lines are lost")
		t.queueGone(f.path, fi.Path, pos)
		return
	}
	f.drain = s
	if pos.Offset > 0 {
		t.queueHeader(f, s)
	} else {
		t.queueOpen(f, s)
	}
}

// queueOpen tells the caller that f's key now names s, from where it is.
// Right after the key's previous file was finished it replaces that Gone,
// so no committed prefix leaves the key naming nothing while s is read: a
// crash there, with s rotated away before the restart, would lose s. Else
// it is sent for an empty file only, which no line names yet.
func (t *Tailer) queueOpen(f *follower, s *source) {
	l := Line{Kind: OpenKind, Input: f.input, Path: s.path, Pos: Position{Path: f.path, ID: s.id, Offset: s.r.off}}
	if s.id.FPLen == 0 && s.gz == nil {
		since := s.since
		if f.since.After(since) {
			since = f.since
		}
		l.Pos.EmptySince = stamp(since)
	}
	if n := len(t.pending); n > 0 && t.pending[n-1].Kind == GoneKind && t.pending[n-1].Pos.Path == f.path {
		t.pending[n-1] = l
		return
	}
	if len(s.head) == 0 {
		t.pending = append(t.pending, l)
	}
}

// successors lists the rotated names of path that hold files modified after
// mtime (rotated after the file dev/ino), oldest first, leaving out the file
// at path now, watched paths and files open here or named by a saved
// position (see rotatedAfter). They were rotated away before anything of
// them was read (during a stop, or twice within a few polls), and none of
// them was counted: the key's position would name it.
func (t *Tailer) successors(path string, dev, ino uint64, mtime time.Time) []FileInfo {
	var cur *FileInfo
	if fi, err := statFile(path); err == nil {
		cur = &fi
	}
	return rotatedAfter(path, t.rotatedInfos(path), mtime, cur, Identity{Dev: dev, Inode: ino}, "")
}

// rotatedInfos describes the rotated names of path, as Decide needs them.
func (t *Tailer) rotatedInfos(path string) []FileInfo {
	var out []FileInfo
	for _, name := range rotatedNames(path) {
		if fi, err := statFile(name); err == nil {
			fi.Watched = t.watched(name)
			fi.Named = t.named(fi)
			out = append(out, fi)
		}
	}
	return out
}

// drainNext starts reading the next of f's successors; false when there is
// none left.
func (t *Tailer) drainNext(f *follower) bool {
	for len(f.next) > 0 {
		fi := f.next[0]
		f.next = f.next[1:]
		if fi.ModTime.After(f.since) {
			f.since = fi.ModTime
		}
		t.log.Info().Str("path", f.path).Str("rotated", fi.Path).Msg("reading a file rotated away before it was read")
		t.openDrain(f, fi, Position{Path: f.path, ID: identityOf(fi.Dev, fi.Inode, fi.Head)})
		if f.drain != nil {
			return true
		}
	}
	return false
}

func (t *Tailer) queueHeader(f *follower, s *source) {
	t.pending = append(t.pending, Line{
		Kind:  HeaderKind,
		Input: f.input,
		Path:  s.path,
		Text:  s.header(t.cfg.MaxLine),
		Pos:   Position{Path: f.path, ID: s.id, Offset: s.r.off},
	})
}

func (t *Tailer) queueGone(key, path string, pos Position) {
	in, _ := t.inputFor(key)
	pos.Path = key
	t.pending = append(t.pending, Line{Kind: GoneKind, Input: in.pattern, Path: path, Pos: pos})
}

// finish closes a source read to its end and tells the caller its key is done.
func (t *Tailer) finish(f *follower, s *source) {
	if n := s.r.pending(); n > 0 {
		t.log.Warn().Str("path", s.path).Int64("offset", s.r.off).Int64("bytes", n).Msg("file ended with a partial line, dropped")
	}
	t.queueGone(f.path, s.path, Position{ID: s.id, Offset: s.r.off})
	s.close()
}

func (t *Tailer) finishDrain(f *follower) {
	t.finish(f, f.drain)
	f.drain = nil
	switch {
	case t.drainNext(f):
	case f.live != nil: // a truncated file, read again once its copy is done
		t.queueOpen(f, f.live)
	default:
		t.openLive(f, f.want, f.wantFrom)
	}
}

// retire closes a rotated file that has been read to its end and stayed
// quiet for a poll.
func (t *Tailer) retire(f *follower) {
	s := f.live
	f.live = nil
	if st, err := s.f.Stat(); err == nil {
		f.next = t.successors(f.path, s.dev, s.ino, st.ModTime())
	}
	if s.r.off > 0 {
		t.retired = append(t.retired, retired{dev: s.dev, ino: s.ino, head: bytes.Clone(s.head), off: s.r.off, at: time.Now()})
	}
	t.finish(f, s)
}

// adopt finds fi among the retired files: the same inode with the same first
// bytes, or the old content of a truncated file (its copy) by first bytes.
func (t *Tailer) adopt(fi FileInfo) (retired, bool) {
	for i, r := range t.retired {
		if !bytes.HasPrefix(fi.Head, r.head) || fi.Size < r.off {
			continue
		}
		if (r.copy && len(r.head) > 0) || (!r.copy && r.dev == fi.Dev && r.ino == fi.Inode) {
			t.retired = append(t.retired[:i], t.retired[i+1:]...)
			return r, true
		}
	}
	return retired{}, false
}

func (t *Tailer) pruneRetired() {
	ttl := 10 * t.cfg.PollInterval
	if ttl < 10*time.Second {
		ttl = 10 * time.Second
	}
	kept := t.retired[:0]
	for _, r := range t.retired {
		if time.Since(r.at) < ttl {
			kept = append(kept, r)
		}
	}
	if n := len(kept); n > 256 {
		kept = kept[n-256:]
	}
	t.retired = kept
}

// poll looks at the disk: renames, rotations, truncations, new files.
func (t *Tailer) poll() {
	defer t.updateHealth()
	t.files = t.scan()
	t.pruneRetired()
	for p := range t.deferred {
		if !t.watched(p) {
			delete(t.deferred, p)
		}
	}

	// Where is each followed file now?
	var moves []move
	for _, k := range t.sortedFollowers() {
		f := t.followers[k]
		s := f.live
		if s == nil || s.rotated {
			continue
		}
		key := fileKey{s.dev, s.ino}
		if sc, ok := t.files.paths[k]; ok && sc.key == key {
			t.check(f)
			continue
		}
		if p, ok := t.files.byIno[key]; ok {
			moves = append(moves, move{s: s, edge: edge{from: k, to: p}})
			continue
		}
		s.rotated = true
		t.rotations.Add(1)
		t.log.Info().Str("path", k).Int64("offset", s.r.off).Msg("file rotated")
	}
	t.applyMoves(moves)

	// Rotated files are closed once read to the end and quiet for a poll:
	// the writer may still append until it reopens its log.
	for _, k := range t.sortedFollowers() {
		f := t.followers[k]
		s := f.live
		if s == nil || !s.rotated {
			continue
		}
		st, err := s.f.Stat()
		if err != nil || (s.eof && st.Size() == s.pollSize) {
			t.retire(f)
			continue
		}
		s.pollSize = st.Size()
	}

	// Paths without a file: open what is there now.
	for _, k := range t.sortedFollowers() {
		f := t.followers[k]
		if f.live != nil || f.drain != nil || t.drainNext(f) {
			continue
		}
		if !t.watched(k) {
			if f.glob {
				delete(t.followers, k)
			}
			continue
		}
		t.openLive(f, f.want, f.wantFrom)
	}

	// New files.
	for _, p := range t.files.sorted {
		if t.followers[p] != nil {
			continue
		}
		sc := t.files.paths[p]
		if t.inUse(sc.key.dev, sc.key.ino) || t.looksLikeCopy(p) {
			continue
		}
		t.openLive(t.addFollower(p, input{sc.input, sc.glob}), nil, "")
	}
}

// check looks for a truncation of a followed file that is still at its path:
// shorter than what we have read, or no longer starting with the same bytes
// (truncated and regrown between two looks).
func (t *Tailer) check(f *follower) {
	s := f.live
	st, err := s.f.Stat()
	if err != nil {
		t.warnOnce(s.path, "stat failed", err)
		return
	}
	pos, err := s.readPos()
	if err != nil {
		t.warnOnce(s.path, "seek failed", err)
		return
	}
	if len(s.head) == 0 && pos == 0 && st.ModTime().After(s.since) && f.drain == nil && len(f.next) == 0 {
		if t.copiedWhileEmpty(f, st.ModTime().UTC()); f.drain != nil {
			return
		}
	}
	same, err := s.checkHead()
	if err != nil {
		t.warnOnce(s.path, "read failed", err)
		return
	}
	if st.Size() < pos || !same {
		t.truncated(f)
	}
	if f.live != nil {
		f.live.size = st.Size()
	}
}

// copiedWhileEmpty handles a followed file of which nothing has been seen
// (empty at the last look) that was written to since. Nothing tells a
// truncation of an empty file: if it got lines and was copied and truncated
// between two looks, the copy is the only trace. So the files rotated next to
// it since it was last seen empty (rotatedAfter) are read whole first; an
// empty file with no such copy lost what it got, if anything.
func (t *Tailer) copiedWhileEmpty(f *follower, mtime time.Time) {
	s := f.live
	cur, err := describe(s.f, f.path)
	if err != nil {
		return
	}
	whole := rotatedAfter(f.path, t.rotatedInfos(f.path), s.since, &cur, s.id, "")
	switch {
	case len(whole) > 0:
		t.truncations.Add(1)
		t.log.Info().Str("path", f.path).Int("copies", len(whole)).Msg("file last seen empty was copied and truncated")
		f.next = whole
		t.drainNext(f)
	case cur.Size == 0:
		t.lost.Add(1)
		t.log.Warn().Str("path", f.path).Msg("file last seen empty was written to and emptied, and no copy of it was found: its lines are lost")
	default:
		return // it has lines: they are read from it
	}
	s.since = mtime
	if f.since.After(s.since) {
		s.since = f.since
	}
}

// truncated handles a followed file that was truncated: the lines between our
// offset and the truncation are in the rotator's copy if it made one, so that
// copy is finished first (under this key, or under its own if the inputs
// match it); then the file is read again from 0.
func (t *Tailer) truncated(f *follower) {
	s := f.live
	old := Position{Path: f.path, ID: s.id, Offset: s.r.off}
	oldHead := bytes.Clone(s.head)
	lastSize := s.size
	t.truncations.Add(1)
	t.log.Info().Str("path", f.path).Int64("offset", old.Offset).Msg("file truncated")
	if err := s.restart(t.cfg.MaxLine); err != nil {
		t.log.Warn().Str("path", f.path).Err(err).Msg("truncated file unreadable")
		s.close()
		f.live = nil
		return
	}
	if len(oldHead) == 0 {
		return // nothing of it was ever seen: no copy can be told by it
	}
	// Even with nothing read yet (offset 0) the copy holds what was written
	// before the truncation, unread.
	t.files = t.scan() // the copy may be newer than the last poll
	var cands []FileInfo
	for _, p := range t.files.sorted {
		if t.followers[p] == nil {
			if fi, err := statFile(p); err == nil {
				cands = append(cands, fi)
			}
		}
	}
	for _, c := range rotatedNames(f.path) {
		if !t.watched(c) {
			if fi, err := statFile(c); err == nil {
				cands = append(cands, fi)
			}
		}
	}
	i := findSaved(old, cands)
	switch {
	case i >= 0 && t.watched(cands[i].Path):
		p := cands[i].Path
		sc := t.files.paths[p]
		t.log.Info().Str("path", f.path).Str("copy", p).Int64("offset", old.Offset).Msg("resuming truncated file in its copy")
		g := t.addFollower(p, input{sc.input, sc.glob})
		g.want = &old // kept for a later poll if it cannot be opened now
		t.openLive(g, g.want, "")
	case i >= 0:
		t.log.Info().Str("path", f.path).Str("copy", cands[i].Path).Int64("offset", old.Offset).Msg("finishing truncated file from its copy")
		t.openDrain(f, cands[i], old)
	default:
		if lastSize > old.Offset {
			t.lost.Add(1)
			t.log.Warn().Str("path", f.path).Int64("offset", old.Offset).Int64("size", lastSize).Msg("copy of truncated file not found, its unread lines are lost")
		}
		t.retired = append(t.retired, retired{head: oldHead, off: old.Offset, copy: true, at: time.Now()})
	}
}

// looksLikeCopy holds back a new file that starts with all of a followed
// file's first bytes for a few polls: it is probably the copy of a
// copytruncate whose truncation is about to show, and must then be read from
// where the original was, not from 0.
func (t *Tailer) looksLikeCopy(p string) bool {
	n := t.deferred[p]
	if n >= copyWait {
		return false
	}
	fi, err := statFile(p)
	if err != nil {
		return false
	}
	for _, f := range t.followers {
		s := f.live
		if s != nil && !s.rotated && len(s.head) > 0 && (s.dev != fi.Dev || s.ino != fi.Inode) && bytes.HasPrefix(fi.Head, s.head) {
			t.deferred[p] = n + 1
			return true
		}
	}
	return false
}

type edge struct{ from, to string }

type move struct {
	s *source
	edge
}

// applyMoves hands followed files renamed to another watched path over to
// that path's follower: the file keeps its descriptor and offset, the new key
// gets a Header, the old key a Gone. A move onto a path whose own file is
// still being finished waits for a later poll.
func (t *Tailer) applyMoves(moves []move) {
	held := map[int]bool{}
	leaving := func(s *source) bool {
		for i, m := range moves {
			if m.s == s && !held[i] {
				return true
			}
		}
		return false
	}
	for changed := true; changed; {
		changed = false
		for i, m := range moves {
			g := t.followers[m.to]
			if held[i] || g == nil {
				continue
			}
			if g.drain != nil || (g.live != nil && !leaving(g.live)) {
				held[i] = true
				changed = true
			}
		}
	}
	var edges []edge
	bySrc := map[edge]*source{}
	for i, m := range moves {
		if !held[i] {
			edges = append(edges, m.edge)
			bySrc[m.edge] = m.s
		}
	}
	edges = orderEdges(edges)
	for _, e := range edges {
		s := bySrc[e]
		f := t.followers[e.from]
		if f.live == s {
			f.live = nil
		}
		sc := t.files.paths[e.to]
		g := t.addFollower(e.to, input{sc.input, sc.glob})
		g.live = s
		s.path = e.to
		t.rotations.Add(1)
		t.log.Info().Str("path", e.from).Str("to", e.to).Int64("offset", s.r.off).Msg("file renamed")
		if s.r.off > 0 {
			t.queueHeader(g, s)
		}
	}
	for _, e := range edges {
		if f := t.followers[e.from]; f.live == nil {
			s := bySrc[e]
			t.queueGone(e.from, e.to, Position{ID: s.id, Offset: s.r.off})
		}
	}
}

// orderEdges orders position moves so that a key is written (edge.to) only
// after the position it held has moved on (an edge from it): a chain of
// renames like a → a.1 → a.2 becomes a.1→a.2 before a→a.1. Cycles, which a
// rename cannot make, are cut anywhere. Self-edges (a resume) go first.
func orderEdges(edges []edge) []edge {
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].from != edges[j].from {
			return edges[i].from < edges[j].from
		}
		return edges[i].to < edges[j].to
	})
	out := make([]edge, 0, len(edges))
	done := make([]bool, len(edges))
	for len(out) < len(edges) {
		picked := false
		for i, e := range edges {
			if done[i] {
				continue
			}
			blocked := false
			for j, o := range edges {
				if !done[j] && j != i && o.from == e.to && o.from != o.to {
					blocked = true
					break
				}
			}
			if !blocked {
				done[i] = true
				out = append(out, e)
				picked = true
			}
		}
		if !picked {
			for i := range edges {
				if !done[i] {
					done[i] = true
					out = append(out, edges[i])
					break
				}
			}
		}
	}
	return out
}
