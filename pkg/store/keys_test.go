package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMinuteKeys(t *testing.T) {
	// Rows are in time order; their keys must be in byte order too.
	tests := []struct {
		at     time.Time
		minute int64
		key    string
	}{
		{time.Date(1901, 12, 13, 20, 45, 52, 0, time.UTC), -35791395, "7ffffffffddddddd"},
		{time.Date(1969, 12, 31, 23, 58, 59, 0, time.UTC), -2, "7ffffffffffffffe"},
		{time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC), -1, "7fffffffffffffff"},
		{time.Date(1969, 12, 31, 23, 59, 59, 999, time.UTC), -1, "7fffffffffffffff"},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 0, "8000000000000000"},
		{time.Date(1970, 1, 1, 0, 0, 59, 0, time.UTC), 0, "8000000000000000"},
		{time.Date(1970, 1, 1, 0, 1, 0, 0, time.UTC), 1, "8000000000000001"},
		{time.Date(1970, 1, 1, 4, 16, 0, 0, time.UTC), 256, "8000000000000100"},
		{time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), 29539320, "8000000001c2bbf8"},
		{time.Date(2026, 3, 1, 5, 0, 30, 0, time.FixedZone("EST", -5*3600)), 29539320, "8000000001c2bbf8"},
		{time.Date(2026, 3, 1, 10, 1, 0, 0, time.UTC), 29539321, "8000000001c2bbf9"},
		{time.Date(2106, 2, 7, 6, 28, 16, 0, time.UTC), 71582788, "8000000004444444"},
	}
	var prev []byte
	for _, tt := range tests {
		m := MinuteOf(tt.at)
		if m != tt.minute {
			t.Errorf("MinuteOf(%v) = %d, want %d", tt.at, m, tt.minute)
		}
		k := minuteKey(m)
		if got := hex.EncodeToString(k); got != tt.key {
			t.Errorf("minuteKey(%d) = %s, want %s", m, got, tt.key)
		}
		if getMinute(k) != m {
			t.Errorf("getMinute(minuteKey(%d)) = %d", m, getMinute(k))
		}
		if prev != nil && bytes.Compare(prev, k) > 0 {
			t.Errorf("key %x for %v sorts before the previous row's %x", k, tt.at, prev)
		}
		prev = k
	}
}

func TestCeilMinute(t *testing.T) {
	tests := []struct {
		at   time.Time
		want int64
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(0, 1), 1},
		{time.Unix(59, 0), 1},
		{time.Unix(60, 0), 1},
		{time.Unix(-1, 0), 0},
		{time.Unix(-60, 0), -1},
	}
	for _, tt := range tests {
		if got := ceilMinute(tt.at); got != tt.want {
			t.Errorf("ceilMinute(%v) = %d, want %d", tt.at.UTC(), got, tt.want)
		}
	}
}

func TestSeriesEncoding(t *testing.T) {
	tests := []struct {
		name   string
		series Series
		enc    string
	}{
		{"empty", Series{}, "\x00\x00\x00\x00\x00\x00\x00"},
		{"proofpoint", Series{MTA: "postfix", SourceIP: "192.0.2.1", RecipientDomain: "example.com", Status: "deferred", Class: "reputation", Proofpoint: true, Outcome: "block"},
			"\x07postfix\x09192.0.2.1\x0bexample.com\x08deferred\x0areputation\x05block\x01"},
		{"no domain", Series{MTA: "pmta", SourceIP: "2001:db8::1", Status: "delivered", Class: "ok"},
			"\x04pmta\x0b2001:db8::1\x00\x09delivered\x02ok\x00\x00"},
		// Without length prefixes these two would encode alike.
		{"shifted a", Series{MTA: "ab", SourceIP: "c"}, "\x02ab\x01c\x00\x00\x00\x00\x00"},
		{"shifted b", Series{MTA: "a", SourceIP: "bc"}, "\x01a\x02bc\x00\x00\x00\x00\x00"},
		{"long field", Series{RecipientDomain: strings.Repeat("d", 300)}, "\x00\x00\xff\x01" + strings.Repeat("d", 255) + "\x00\x00\x00\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := appendSeries(nil, tt.series)
			if diff := cmp.Diff(tt.enc, string(enc)); diff != "" {
				t.Fatalf("encoding (-want +got):\n%s", diff)
			}
			got, err := decodeSeries(enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := tt.series
			want.RecipientDomain = clip(want.RecipientDomain, maxFieldLen)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
			for n := range len(enc) {
				if _, err := decodeSeries(enc[:n]); !errors.Is(err, errCorrupt) {
					t.Fatalf("decode of %d-byte prefix: err = %v, want errCorrupt", n, err)
				}
			}
		})
	}
}

func TestClipKeepsUTF8(t *testing.T) {
	s := strings.Repeat("a", 254) + "é" // é is 2 bytes at 254..255
	if got := clip(s, 255); got != strings.Repeat("a", 254) {
		t.Errorf("clip split a rune: %q", got[250:])
	}
}

func TestReplyEncoding(t *testing.T) {
	k := ReplyKey{SourceIP: "192.0.2.1", RecipientDomain: "example.com", Response: "421 4.7.0 [TSS04] deferred"}
	enc := replyKey(k)
	want := "\x09192.0.2.1\x0bexample.com\x1a421 4.7.0 [TSS04] deferred"
	if diff := cmp.Diff(want, string(enc)); diff != "" {
		t.Fatalf("key (-want +got):\n%s", diff)
	}
	if !bytes.HasPrefix(enc, pairKey(k.SourceIP, k.RecipientDomain)) || !bytes.HasPrefix(enc, replyPrefix(k.SourceIP)) {
		t.Error("reply key does not start with its pair and IP prefixes")
	}
	// "192.0.2.1" must not match the prefix of "192.0.2.10".
	if bytes.HasPrefix(replyKey(ReplyKey{SourceIP: "192.0.2.10"}), replyPrefix("192.0.2.1")) {
		t.Error("IP prefix is ambiguous")
	}
	got, err := decodeReplyKey(enc)
	if err != nil || got != k {
		t.Fatalf("decodeReplyKey = %+v, %v; want %+v", got, err, k)
	}

	r := Reply{SMTPCode: 421, EnhancedCode: "4.7.0", Class: "proofpoint_block", Count: 7,
		FirstSeen: time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC),
		LastSeen:  time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)}
	v := encodeReplyValue(&r)
	wantV := "0000000000000007" + "01a5" + "00064bf38889aa40" + "00064bf45f1b6c00" + "05" + hex.EncodeToString([]byte("4.7.0")) + "10" + hex.EncodeToString([]byte("proofpoint_block"))
	if got := hex.EncodeToString(v); got != wantV {
		t.Errorf("value = %s, want %s", got, wantV)
	}
	var back Reply
	if err := decodeReplyValue(v, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestCellKey(t *testing.T) {
	tests := []struct {
		minute int64
		id     uint32
		key    string
	}{
		{-1, 7, "7fffffffffffffff00000007"},
		{0, 1, "800000000000000000000001"},
		{29539320, 1, "8000000001c2bbf800000001"},
		{29539320, 0x01020304, "8000000001c2bbf801020304"},
		{29539321, 1, "8000000001c2bbf900000001"},
	}
	var prev []byte
	for _, tt := range tests {
		k := make([]byte, 12)
		putCellKey(k, tt.minute, tt.id)
		if got := hex.EncodeToString(k); got != tt.key {
			t.Errorf("putCellKey(%d, %d) = %s, want %s", tt.minute, tt.id, got, tt.key)
		}
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			t.Errorf("putCellKey(%d, %d) does not sort after the previous row", tt.minute, tt.id)
		}
		prev = k
	}
}
