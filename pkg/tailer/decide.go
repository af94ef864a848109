package tailer

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
)

func (a Action) String() string {
	switch a {
	case Start:
		return "start"
	case Resume:
		return "resume"
	case Finish:
		return "finish"
	}
	return "unknown"
}

// Decision is the outcome of Decide.
type Decision struct {
	Action Action
	From   string // Finish: the path the saved file has now
	Lost   bool   // the saved file is gone: its unread tail, if any, is lost
}

// Decide is the restart decision for one saved position, given the file now
// at the saved path (nil if there is none) and the files that may be the
// saved one under another name (rotated names, compressed or not).
//
// The file at the path is resumed only if it has the saved device and inode,
// starts with the fingerprinted bytes, and is not shorter than the offset: an
// inode reused for new content, a truncation, or a copytruncate all fail one
// of those. Otherwise the saved file is looked for: first the same inode with
// the same first bytes (a rename), then the same first bytes alone (a copy,
// then a compressed copy). An empty fingerprint says nothing about content, so
// it never matches without the inode.
func Decide(saved Position, current *FileInfo, rotated []FileInfo) Decision {
	if current != nil && sameInode(saved.ID, *current) && holds(saved, *current) {
		return Decision{Action: Resume}
	}
	if i := findSaved(saved, rotated); i >= 0 {
		return Decision{Action: Finish, From: rotated[i].Path}
	}
	return Decision{Action: Start, Lost: true}
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
