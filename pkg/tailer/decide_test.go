package tailer

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	content := strings.Repeat("2024-01-01 host postfix/smtp[1]: delivered\n", 50) // > 1024 bytes
	other := strings.Repeat("2024-01-02 host postfix/smtp[2]: deferred!\n", 50)
	small := content[:300]
	id := func(dev, ino uint64, head string) Identity {
		return Identity{Dev: dev, Inode: ino, FPLen: len(head), FP: sha256.Sum256([]byte(head))}
	}
	file := func(path string, dev, ino uint64, data string) FileInfo {
		head := data
		if len(head) > fpMax {
			head = head[:fpMax]
		}
		return FileInfo{Path: path, Dev: dev, Inode: ino, Size: int64(len(data)), Head: []byte(head)}
	}
	gz := func(path string, data string) FileInfo {
		fi := file(path, 1, 99, data)
		fi.Gzip, fi.Size = true, -1
		return fi
	}
	saved := Position{Path: "maillog", ID: id(1, 7, content[:fpMax]), Offset: 1500}
	savedSmall := Position{Path: "maillog", ID: id(1, 7, small), Offset: 300}
	savedEmpty := Position{Path: "maillog", ID: id(1, 7, ""), Offset: 0}

	for _, tc := range []struct {
		name    string
		saved   Position
		current *FileInfo
		rotated []FileInfo
		want    Decision
	}{
		{"same file grown", saved, ptr(file("maillog", 1, 7, content+"more\n")), nil, Decision{Action: Resume}},
		{"same file, offset at its end", saved, ptr(file("maillog", 1, 7, content[:1500])), nil, Decision{Action: Resume}},
		{"fingerprint grew since saved", savedSmall, ptr(file("maillog", 1, 7, content)), nil, Decision{Action: Resume}},
		{"empty file saved, same inode", savedEmpty, ptr(file("maillog", 1, 7, content)), nil, Decision{Action: Resume}},
		{"inode reused for other content", saved, ptr(file("maillog", 1, 7, other)), nil, Decision{Action: Start, Lost: true}},
		{"same inode on another device", saved, ptr(file("maillog", 2, 7, content)), nil, Decision{Action: Start, Lost: true}},
		{"truncated while stopped, no copy", saved, ptr(file("maillog", 1, 7, content[:1200])), nil, Decision{Action: Start, Lost: true}},
		{"nothing anywhere", saved, nil, nil, Decision{Action: Start, Lost: true}},
		{
			"renamed to .1, new file at path", saved, ptr(file("maillog", 1, 8, other)),
			[]FileInfo{file("maillog.1", 1, 7, content)},
			Decision{Action: Finish, From: "maillog.1"},
		},
		{
			"renamed, path missing", saved, nil,
			[]FileInfo{file("maillog-20240101", 1, 7, content)},
			Decision{Action: Finish, From: "maillog-20240101"},
		},
		{
			"inode match preferred over a copy", saved, nil,
			[]FileInfo{file("maillog.0", 1, 50, content), file("maillog.1", 1, 7, content)},
			Decision{Action: Finish, From: "maillog.1"},
		},
		{
			"copytruncate while stopped: copy by fingerprint", saved, ptr(file("maillog", 1, 7, other)),
			[]FileInfo{file("maillog.1", 1, 50, content)},
			Decision{Action: Finish, From: "maillog.1"},
		},
		{
			"copy shorter than the offset is not it", saved, nil,
			[]FileInfo{file("maillog.1", 1, 50, content[:1400])},
			Decision{Action: Start, Lost: true},
		},
		{
			"rotated name with reused inode and other content", saved, nil,
			[]FileInfo{file("maillog.1", 1, 7, other)},
			Decision{Action: Start, Lost: true},
		},
		{
			"compressed: by decompressed fingerprint", saved, ptr(file("maillog", 1, 8, other)),
			[]FileInfo{gz("maillog.2.gz", other), gz("maillog.1.gz", content)},
			Decision{Action: Finish, From: "maillog.1.gz"},
		},
		{
			"plain copy preferred over compressed", saved, nil,
			[]FileInfo{gz("maillog.1.gz", content), file("maillog.1", 1, 50, content)},
			Decision{Action: Finish, From: "maillog.1"},
		},
		{
			"empty fingerprint never matches by content", savedEmpty, nil,
			[]FileInfo{file("maillog.1", 1, 50, content), gz("maillog.1.gz", content)},
			Decision{Action: Start, Lost: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Decide(tc.saved, tc.current, tc.rotated)); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

// Every restart case through Restart.Decide, with the files' times: what is
// read whole after a rename rotation or before a file last seen empty, and
// what is kept of a path that left the inputs.
func TestRestartDecide(t *testing.T) {
	content := strings.Repeat("2024-01-01 host postfix/smtp[1]: delivered\n", 50) // > 1024 bytes
	other := strings.Repeat("2024-01-02 host postfix/smtp[2]: deferred!\n", 50)
	third := strings.Repeat("2024-01-03 host postfix/smtp[3]: bounced!!\n", 50)
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC) // the last commit
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	id := func(dev, ino uint64, head string) Identity {
		return Identity{Dev: dev, Inode: ino, FPLen: len(head), FP: sha256.Sum256([]byte(head))}
	}
	file := func(path string, ino uint64, data string, mtime time.Time) FileInfo {
		head := data
		if len(head) > fpMax {
			head = head[:fpMax]
		}
		return FileInfo{Path: path, Dev: 1, Inode: ino, Size: int64(len(data)), Head: []byte(head), ModTime: mtime}
	}
	gz := func(fi FileInfo) FileInfo {
		fi.Path += ".gz"
		fi.Inode += 1000
		fi.Gzip, fi.Size = true, -1
		return fi
	}
	watched := func(fi FileInfo) FileInfo { fi.Watched = true; return fi }
	named := func(fi FileInfo) FileInfo { fi.Named = true; return fi }
	saved := Position{Path: "maillog", ID: id(1, 7, content[:fpMax]), Offset: 1500}
	empty := Position{Path: "maillog", ID: id(1, 7, ""), EmptySince: t0}
	emptyOld := Position{Path: "maillog", ID: id(1, 7, "")} // saved before EmptySince existed
	parked := saved
	parked.Parked = at(-10 * 24 * time.Hour)
	now := at(time.Hour)

	for _, tc := range []struct {
		name string
		away bool // the path is no longer an input
		r    Restart
		want Decision
	}{
		// The file at the path.
		{"same file grown", false, Restart{Saved: saved, Current: ptr(file("maillog", 7, content+"more\n", now))}, Decision{Action: Resume}},
		{"same file, nothing new", false, Restart{Saved: saved, Current: ptr(file("maillog", 7, content[:1500], t0))}, Decision{Action: Resume}},
		{"truncated, no copy", false, Restart{Saved: saved, Current: ptr(file("maillog", 7, content[:1000], now))}, Decision{Action: Start, Lost: true}},
		{"replaced by another file", false, Restart{Saved: saved, Current: ptr(file("maillog", 8, other, now))}, Decision{Action: Start, Lost: true}},
		{"missing", false, Restart{Saved: saved}, Decision{Action: Start, Lost: true}},
		{
			"rotated by copytruncate: the copy is finished", false, Restart{Saved: saved, Current: ptr(file("maillog", 7, other[:200], now)),
				Rotated: []FileInfo{file("maillog.1", 9, content, at(time.Minute))}},
			Decision{Action: Finish, From: "maillog.1"},
		},

		// Rename rotations: the saved file, then what was rotated after it.
		{
			"rotated by rename", false, Restart{Saved: saved, Current: ptr(file("maillog", 8, other, now)),
				Rotated: []FileInfo{file("maillog.1", 7, content, at(time.Minute)), file("maillog.2.gz", 5, third, at(-24*time.Hour))}},
			Decision{Action: Finish, From: "maillog.1"},
		},
		{
			"rotated twice by rename: the later one read whole", false, Restart{Saved: saved, Current: ptr(file("maillog", 10, third, now)),
				Rotated: []FileInfo{file("maillog.1", 8, other, at(2*time.Minute)), file("maillog.2", 7, content, at(time.Minute))}},
			Decision{Action: Finish, From: "maillog.2", Whole: []string{"maillog.1"}},
		},
		{
			"rotated three times, dateext and compressed", false, Restart{Saved: saved, Current: ptr(file("maillog", 11, "x\n", now)),
				Rotated: []FileInfo{
					gz(file("maillog-20261123", 10, third, at(3*time.Minute))),
					file("maillog-20261122", 7, content, at(time.Minute)),
					gz(file("maillog-20261121", 8, other, at(2*time.Minute))),
				}},
			Decision{Action: Finish, From: "maillog-20261122", Whole: []string{"maillog-20261121.gz", "maillog-20261123.gz"}},
		},
		{
			"read whole: not older, watched, named, open at the path, nor another log", false, Restart{Saved: Position{Path: "mail.log", ID: saved.ID, Offset: 1500},
				Current: ptr(file("mail.log", 20, "new\n", now)),
				Rotated: []FileInfo{
					file("mail.log.1", 7, content, at(time.Minute)),
					file("mail.log.2", 5, other, at(-time.Hour)),
					watched(file("mail.log.3", 11, third, at(2*time.Minute))),
					named(file("mail.log.4", 12, third, at(2*time.Minute))),
					file("mail.log.5", 20, "new\n", at(2*time.Minute)),
					file("mail.err", 13, third, at(2*time.Minute)),
					file("mail.1.log", 14, third, at(3*time.Minute)),
				}},
			Decision{Action: Finish, From: "mail.log.1", Whole: []string{"mail.1.log"}},
		},
		{
			"renamed to a watched path: goes on there, nothing read whole", false, Restart{Saved: saved, Current: ptr(file("maillog", 8, other, now)),
				Rotated: []FileInfo{watched(file("maillog-1.csv", 7, content, at(time.Minute))), file("maillog.1", 9, third, at(2*time.Minute))}},
			Decision{Action: Finish, From: "maillog-1.csv"},
		},

		// A file empty at the last commit: its fingerprint matches anything.
		{"empty at last commit, untouched", false, Restart{Saved: empty, Current: ptr(file("maillog", 7, "", t0))}, Decision{Action: Resume}},
		{"empty at last commit, grown", false, Restart{Saved: empty, Current: ptr(file("maillog", 7, content, now))}, Decision{Action: Resume}},
		{
			"empty at last commit, copytruncated: the copy read whole first", false, Restart{Saved: empty, Current: ptr(file("maillog", 7, "", at(time.Minute))),
				Rotated: []FileInfo{file("maillog.1", 9, content, at(time.Minute)), gz(file("maillog.2", 8, other, at(-24*time.Hour)))}},
			Decision{Action: Resume, Whole: []string{"maillog.1"}},
		},
		{
			"empty at last commit, copytruncated twice and compressed, regrown", false, Restart{Saved: empty, Current: ptr(file("maillog", 7, third, now)),
				Rotated: []FileInfo{file("maillog.1", 9, other, at(2*time.Minute)), gz(file("maillog.2", 8, content, at(time.Minute)))}},
			Decision{Action: Resume, Whole: []string{"maillog.2.gz", "maillog.1"}},
		},
		{
			"empty at last commit, copy made, not truncated yet", false, Restart{Saved: empty, Current: ptr(file("maillog", 7, content+"more\n", now)),
				Rotated: []FileInfo{file("maillog.1", 9, content, at(time.Minute))}},
			Decision{Action: Resume},
		},
		{
			"empty at last commit, the rotations before it", false, Restart{Saved: empty, Current: ptr(file("maillog", 7, content, now)),
				Rotated: []FileInfo{file("maillog.1", 9, other, t0), gz(file("maillog.2", 8, third, at(-time.Hour)))}},
			Decision{Action: Resume},
		},
		{"empty at last commit, written to and emptied, no copy", false, Restart{Saved: empty, Current: ptr(file("maillog", 7, "", at(time.Minute)))}, Decision{Action: Resume, Lost: true}},
		{
			"empty at last commit, copied, then replaced", false, Restart{Saved: empty, Current: ptr(file("maillog", 30, third, now)),
				Rotated: []FileInfo{file("maillog.1", 9, content, at(time.Minute))}},
			Decision{Action: Start, Lost: true, Whole: []string{"maillog.1"}},
		},
		{"empty at last commit, missing", false, Restart{Saved: empty}, Decision{Action: Start, Lost: true}},
		{
			"empty, renamed: finished by inode, then what came after", false, Restart{Saved: empty, Current: ptr(file("maillog", 30, third, now)),
				Rotated: []FileInfo{file("maillog.1", 8, other, at(2*time.Minute)), file("maillog.2", 7, content, at(time.Minute))}},
			Decision{Action: Finish, From: "maillog.2", Whole: []string{"maillog.1"}},
		},
		{
			"empty, saved without its time: as before, copies unseen", false, Restart{Saved: emptyOld, Current: ptr(file("maillog", 7, "", now)),
				Rotated: []FileInfo{file("maillog.1", 9, content, at(time.Minute))}},
			Decision{Action: Resume},
		},

		// Paths that left the inputs.
		{"not an input: parked", true, Restart{Saved: saved, Now: now, ParkFor: 30 * 24 * time.Hour}, Decision{Action: Park}},
		{"parked 10 days of 30", true, Restart{Saved: parked, Now: now, ParkFor: 30 * 24 * time.Hour}, Decision{Action: Park}},
		{"parked for its time: dropped", true, Restart{Saved: parked, Now: parked.Parked.Add(10 * 24 * time.Hour), ParkFor: 10 * 24 * time.Hour}, Decision{Action: Drop}},
		{"parked, no age limit", true, Restart{Saved: parked, Now: now}, Decision{Action: Park}},
		{
			"parked path back: resumed, as any", false, Restart{Saved: parked, Current: ptr(file("maillog", 7, content+"more\n", now)), Now: now, ParkFor: time.Hour},
			Decision{Action: Resume},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.Input = !tc.away
			if diff := cmp.Diff(tc.want, r.Decide()); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeepParked(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	p := func(path string, ago time.Duration) Position {
		pos := Position{Path: path}
		if ago >= 0 {
			pos.Parked = now.Add(-ago)
		}
		return pos
	}
	stamped := func(pos Position) Position { pos.Parked = now; return pos }
	in := []Position{p("a", time.Hour), p("b", -1), p("c", 2*time.Hour), p("d", -1), p("e", time.Hour)}
	for _, tc := range []struct {
		max        int
		kept, over []Position
	}{
		{10, []Position{stamped(p("b", -1)), stamped(p("d", -1)), p("a", time.Hour), p("e", time.Hour), p("c", 2*time.Hour)}, nil},
		{3, []Position{stamped(p("b", -1)), stamped(p("d", -1)), p("a", time.Hour)}, []Position{p("e", time.Hour), p("c", 2*time.Hour)}},
		{1, []Position{stamped(p("b", -1))}, []Position{stamped(p("d", -1)), p("a", time.Hour), p("e", time.Hour), p("c", 2*time.Hour)}},
	} {
		kept, over := keepParked(in, tc.max, now)
		if diff := cmp.Diff(tc.kept, kept); diff != "" {
			t.Errorf("max %d: kept (-want +got):\n%s", tc.max, diff)
		}
		if diff := cmp.Diff(tc.over, over); diff != "" {
			t.Errorf("max %d: over (-want +got):\n%s", tc.max, diff)
		}
	}
}

func TestRotatedName(t *testing.T) {
	for _, tc := range []struct {
		key, name string
		want      bool
	}{
		{"/var/log/maillog", "/var/log/maillog.1", true},
		{"/var/log/maillog", "/var/log/maillog.2.gz", true},
		{"/var/log/maillog", "/var/log/maillog-20261122", true},
		{"/var/log/maillog", "/var/log/maillog.old", false},
		{"/var/log/mail.log", "/var/log/mail.log.1", true},
		{"/var/log/mail.log", "/var/log/mail.1.log", true},
		{"/var/log/mail.log", "/var/log/mail-20261122.log", true},
		{"/var/log/mail.log", "/var/log/mail.err", false},
		{"/var/log/mail.log", "/var/log/mail.warn", false},
		{"/var/log/exim4/mainlog", "/var/log/exim4/mainlog.01.gz", true},
	} {
		if got := rotatedName(tc.key, tc.name); got != tc.want {
			t.Errorf("rotatedName(%q, %q) = %v, want %v", tc.key, tc.name, got, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
