package tailer

import (
	"crypto/sha256"
	"strings"
	"testing"

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

func ptr[T any](v T) *T { return &v }
