package tailer

import (
	"bytes"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Action is what to do with a saved position on start.
type Action int

const (
	// Start reads the file at the path from offset 0: the saved file is
	// nowhere to be found (Decision.Lost).
	Start Action = iota
	// Resume reads the file at the path from the saved offset: it is the
	// saved file.
	Resume
	// Finish reads the saved file, now at Decision.From, from the saved offset
	// to its end; then the file at the path from 0.
	Finish
	// Park keeps the position as it is: its path is no longer an input. If
	// the path comes back, its file resumes where it was instead of being
	// read again from 0 (a path dropped by a typo and then restored).
	Park
	// Drop deletes a position parked for Restart.ParkFor or longer.
	Drop
)

func (a Action) String() string {
	switch a {
	case Start:
		return "start"
	case Resume:
		return "resume"
	case Finish:
		return "finish"
	case Park:
		return "park"
	case Drop:
		return "drop"
	}
	return "unknown"
}

// Decision is the outcome of Decide.
type Decision struct {
	Action Action
	From   string // Finish: the path the saved file has now
	Lost   bool   // the saved file is gone, or lost lines: its unread tail, if any, is lost
	// Whole are rotated files to read whole, oldest first: after From
	// (Finish), or before the file at the path (Resume, Start of a file last
	// seen empty). They were rotated after the last thing known of the saved
	// file and no position names them, so none of their lines was counted.
	Whole []string
}

// Restart is everything the restart decision for one saved position looks
// at; Decide is a pure function of it.
type Restart struct {
	Saved Position
	// Input says an input still covers Saved.Path. If none does, the
	// position is parked, and only Now and ParkFor matter.
	Input bool
	// Current is the file at Saved.Path now, nil if there is none.
	Current *FileInfo
	// Rotated are the other files that may be the saved one under another
	// name, or rotated after it: rotated names next to it (plain or .gz)
	// and watched paths that no other position claims (Watched set).
	Rotated []FileInfo
	Now     time.Time     // for parked positions
	ParkFor time.Duration // how long a parked position is kept; 0 for ever
}

// Decide is the restart decision for one saved position, given the file now
// at the saved path (nil if there is none) and the files that may be the
// saved one under another name (rotated names, compressed or not), for a
// path that is still an input. See Restart.Decide.
func Decide(saved Position, current *FileInfo, rotated []FileInfo) Decision {
	return Restart{Saved: saved, Input: true, Current: current, Rotated: rotated}.Decide()
}

// Decide makes the restart decision.
//
// A path no longer in the inputs is parked, until it has been parked for
// ParkFor. For the others: the file at the path is resumed only if it has the
// saved device and inode, starts with the fingerprinted bytes, and is not
// shorter than the offset: an inode reused for new content, a truncation, or
// a copytruncate all fail one of those. Otherwise the saved file is looked
// for: first the same inode with the same first bytes (a rename), then the
// same first bytes alone (a copy, then a compressed copy). An empty
// fingerprint says nothing about content, so it never matches without the
// inode.
//
// Files rotated after the saved one are read whole (Decision.Whole): after a
// rename, those modified after the renamed file; for a file that was empty
// when saved (Position.EmptySince), those modified after that time, which
// are its copies (copytruncate) that the empty fingerprint cannot tell. A
// file last seen empty that is empty again, was written to since, and has no
// such copy lost what was written (Lost).
func (r Restart) Decide() Decision {
	saved := r.Saved
	if !r.Input {
		if !saved.Parked.IsZero() && r.ParkFor > 0 && r.Now.Sub(saved.Parked) >= r.ParkFor {
			return Decision{Action: Drop}
		}
		return Decision{Action: Park}
	}
	cur := r.Current
	empty := saved.ID.FPLen == 0 && !saved.EmptySince.IsZero()
	if cur != nil && sameInode(saved.ID, *cur) && holds(saved, *cur) {
		d := Decision{Action: Resume}
		if empty {
			d.Whole = paths(rotatedAfter(saved.Path, r.Rotated, saved.EmptySince, cur, saved.ID, ""))
			d.Lost = len(d.Whole) == 0 && cur.Size == 0 && cur.ModTime.After(saved.EmptySince)
		}
		return d
	}
	if i := findSaved(saved, r.Rotated); i >= 0 {
		from := r.Rotated[i]
		d := Decision{Action: Finish, From: from.Path}
		if !from.Watched { // a watched file goes on under its own key
			d.Whole = paths(rotatedAfter(saved.Path, r.Rotated, from.ModTime, cur, saved.ID, from.Path))
		}
		return d
	}
	d := Decision{Action: Start, Lost: true}
	if empty {
		d.Whole = paths(rotatedAfter(saved.Path, r.Rotated, saved.EmptySince, cur, saved.ID, ""))
	}
	return d
}

// findSaved returns the index of the candidate that holds saved, or -1.
func findSaved(saved Position, cands []FileInfo) int {
	for i, c := range cands {
		if sameInode(saved.ID, c) && holds(saved, c) {
			return i
		}
	}
	if saved.ID.FPLen == 0 {
		return -1
	}
	for i, c := range cands {
		if !c.Gzip && holds(saved, c) {
			return i
		}
	}
	for i, c := range cands {
		if c.Gzip && holds(saved, c) {
			return i
		}
	}
	return -1
}

// rotatedAfter returns the candidates rotated after the time after, oldest
// first: modified strictly later (file times are coarse, a few ms: a file
// rotated within the same tick as the one before it is missed, which no
// rotator does), with a rotated name (one with a number or a date: mail.err
// beside mail.log is another log), and none of these: watched, named by a
// position, the saved file (inode id, or path from), the file at the path
// now, or a file the one at the path still starts with (a copy whose
// truncation has not happened yet: its lines are still read from the path).
func rotatedAfter(key string, cands []FileInfo, after time.Time, cur *FileInfo, id Identity, from string) []FileInfo {
	var out []FileInfo
	for _, c := range cands {
		switch {
		case !c.ModTime.After(after), c.Watched, c.Named, c.Path == from, sameInode(id, c):
			continue
		case cur != nil && !c.Gzip && c.Dev == cur.Dev && c.Inode == cur.Inode:
			continue
		case cur != nil && len(c.Head) > 0 && bytes.HasPrefix(cur.Head, c.Head):
			continue
		case !rotatedName(key, c.Path):
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].ModTime.Equal(out[j].ModTime) {
			return out[i].ModTime.Before(out[j].ModTime)
		}
		return out[i].Path > out[j].Path // name.2 before name.1
	})
	return out
}

// rotatedName reports whether name looks like a rotation of key: what it
// adds to key's base name (maillog.1, mail.log-20240101), or to its stem
// (mail.1.log, mail-20240101.log), has a digit.
func rotatedName(key, name string) bool {
	b, nb := filepath.Base(key), filepath.Base(name)
	ext := filepath.Ext(b)
	var added string
	switch stem := strings.TrimSuffix(b, ext); {
	case strings.HasPrefix(nb, b):
		added = nb[len(b):]
	case strings.HasPrefix(nb, stem):
		added = strings.TrimSuffix(nb[len(stem):], ext)
	}
	return strings.ContainsAny(added, "0123456789")
}

func paths(fis []FileInfo) []string {
	var out []string
	for _, fi := range fis {
		out = append(out, fi.Path)
	}
	return out
}
