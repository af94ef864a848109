package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Field length caps. A key that bbolt refuses (over 32 KiB) would make Apply
// fail on every retry and stall the pipeline, so over-long values are cut here
// instead. Real values are far shorter: a domain is at most 253 bytes and an
// SMTP reply line at most 512 (RFC 5321).
const (
	maxFieldLen    = 255
	maxResponseLen = 512
)

var errCorrupt = errors.New("corrupt record")

// MinuteOf returns the 1-minute bucket of t: unix seconds / 60, rounded down
// so that times before 1970 land in the right bucket too.
func MinuteOf(t time.Time) int64 {
	return floorDiv(t.Unix(), 60)
}

// ceilMinute returns the first minute whose start is at or after t.
func ceilMinute(t time.Time) int64 {
	m := MinuteOf(t)
	if t.After(time.Unix(m*60, 0)) {
		m++
	}
	return m
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// putMinute writes m as 8 big-endian bytes with the sign bit flipped, so that
// byte order equals numeric order for negative minutes as well.
func putMinute(dst []byte, m int64) {
	binary.BigEndian.PutUint64(dst, uint64(m)^(1<<63))
}

func getMinute(src []byte) int64 {
	return int64(binary.BigEndian.Uint64(src) ^ (1 << 63))
}

func minuteKey(m int64) []byte {
	k := make([]byte, 8)
	putMinute(k, m)
	return k
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// appendField appends a uvarint length and the bytes of s.
func appendField(dst []byte, s string, limit int) []byte {
	s = clip(s, limit)
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// readField reads one field written by appendField and returns it with the
// rest of src. The string is a copy, so it stays valid after the transaction.
func readField(src []byte) (string, []byte, error) {
	n, w := binary.Uvarint(src)
	if w <= 0 || uint64(len(src)-w) < n {
		return "", nil, errCorrupt
	}
	src = src[w:]
	return string(src[:n]), src[n:], nil
}

// appendSeries appends the series encoding: six length-prefixed fields in the
// order MTA, SourceIP, RecipientDomain, Status, Class, Outcome, then one
// flags byte (bit 0 = Proofpoint).
func appendSeries(dst []byte, s Series) []byte {
	dst = appendField(dst, s.MTA, maxFieldLen)
	dst = appendField(dst, s.SourceIP, maxFieldLen)
	dst = appendField(dst, s.RecipientDomain, maxFieldLen)
	dst = appendField(dst, s.Status, maxFieldLen)
	dst = appendField(dst, s.Class, maxFieldLen)
	dst = appendField(dst, s.Outcome, maxFieldLen)
	var flags byte
	if s.Proofpoint {
		flags |= 1
	}
	return append(dst, flags)
}

// seriesIP returns the source IP field of an encoded series, without
// copying it.
func seriesIP(src []byte) ([]byte, error) {
	var field []byte
	for range 2 { // the MTA, then the IP
		n, w := binary.Uvarint(src)
		if w <= 0 || uint64(len(src)-w) < n {
			return nil, errCorrupt
		}
		field, src = src[w:w+int(n)], src[w+int(n):]
	}
	return field, nil
}

func decodeSeries(src []byte) (Series, error) {
	var s Series
	var err error
	for _, f := range []*string{&s.MTA, &s.SourceIP, &s.RecipientDomain, &s.Status, &s.Class, &s.Outcome} {
		if *f, src, err = readField(src); err != nil {
			return Series{}, err
		}
	}
	if len(src) != 1 || src[0] > 1 {
		return Series{}, errCorrupt
	}
	s.Proofpoint = src[0] == 1
	return s, nil
}

// putCellKey writes the 12-byte cell key: the minute, then the series id.
func putCellKey(dst []byte, m int64, id uint32) {
	putMinute(dst, m)
	binary.BigEndian.PutUint32(dst[8:], id)
}

func idKey(id uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, id)
}

// Series values: uint32 id | uint64 total.
func encodeSeriesValue(id uint32, total uint64) []byte {
	v := binary.BigEndian.AppendUint32(make([]byte, 0, 12), id)
	return binary.BigEndian.AppendUint64(v, total)
}

func decodeSeriesValue(v []byte) (uint32, uint64, error) {
	if len(v) != 12 {
		return 0, 0, errCorrupt
	}
	return binary.BigEndian.Uint32(v), binary.BigEndian.Uint64(v[4:]), nil
}

// replyPrefix is the key prefix shared by all replies of one source IP and,
// when domain is given too, of one (source IP, recipient domain) pair.
func replyPrefix(ip string) []byte {
	return appendField(nil, ip, maxFieldLen)
}

func pairKey(ip, domain string) []byte {
	return appendPairKey(nil, ip, domain)
}

func appendPairKey(dst []byte, ip, domain string) []byte {
	dst = appendField(dst, ip, maxFieldLen)
	return appendField(dst, domain, maxFieldLen)
}

func replyKey(k ReplyKey) []byte {
	return appendField(pairKey(k.SourceIP, k.RecipientDomain), k.Response, maxResponseLen)
}

func decodeReplyKey(src []byte) (ReplyKey, error) {
	var k ReplyKey
	var err error
	if k.SourceIP, src, err = readField(src); err != nil {
		return ReplyKey{}, err
	}
	if k.RecipientDomain, src, err = readField(src); err != nil {
		return ReplyKey{}, err
	}
	if k.Response, src, err = readField(src); err != nil {
		return ReplyKey{}, err
	}
	if len(src) != 0 {
		return ReplyKey{}, errCorrupt
	}
	return k, nil
}

func decodePairKey(src []byte) (ip, domain string, err error) {
	if ip, src, err = readField(src); err != nil {
		return "", "", err
	}
	if domain, src, err = readField(src); err != nil {
		return "", "", err
	}
	if len(src) != 0 {
		return "", "", errCorrupt
	}
	return ip, domain, nil
}

// Reply values: count (8) | smtp code (2) | first seen (8) | last seen (8) |
// enhanced code field | class field. Times are unix microseconds, big-endian.
const replyFixedLen = 8 + 2 + 8 + 8

func encodeReplyValue(r *Reply) []byte {
	v := make([]byte, replyFixedLen, replyFixedLen+16)
	binary.BigEndian.PutUint64(v[0:], r.Count)
	code := r.SMTPCode
	if code < 0 || code > 0xffff {
		code = 0
	}
	binary.BigEndian.PutUint16(v[8:], uint16(code))
	binary.BigEndian.PutUint64(v[10:], uint64(r.FirstSeen.UnixMicro()))
	binary.BigEndian.PutUint64(v[18:], uint64(r.LastSeen.UnixMicro()))
	v = appendField(v, r.EnhancedCode, maxFieldLen)
	return appendField(v, r.Class, maxFieldLen)
}

// decodeReplyValue fills the value fields of r; the key fields are left alone.
func decodeReplyValue(v []byte, r *Reply) error {
	if len(v) < replyFixedLen {
		return errCorrupt
	}
	r.Count = binary.BigEndian.Uint64(v[0:])
	r.SMTPCode = int(binary.BigEndian.Uint16(v[8:]))
	r.FirstSeen = time.UnixMicro(int64(binary.BigEndian.Uint64(v[10:]))).UTC()
	r.LastSeen = time.UnixMicro(int64(binary.BigEndian.Uint64(v[18:]))).UTC()
	var err error
	rest := v[replyFixedLen:]
	if r.EnhancedCode, rest, err = readField(rest); err != nil {
		return err
	}
	if r.Class, rest, err = readField(rest); err != nil {
		return err
	}
	if len(rest) != 0 {
		return errCorrupt
	}
	return nil
}

// Overflow values: count (8) | last seen (8, unix microseconds).
func encodeOverflow(n uint64, last time.Time) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v[0:], n)
	binary.BigEndian.PutUint64(v[8:], uint64(last.UnixMicro()))
	return v
}

func decodeOverflow(v []byte) (uint64, time.Time, error) {
	if len(v) != 16 {
		return 0, time.Time{}, errCorrupt
	}
	return binary.BigEndian.Uint64(v[0:]), time.UnixMicro(int64(binary.BigEndian.Uint64(v[8:]))).UTC(), nil
}

func encodeUint64(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}

func decodeUint64(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, errCorrupt
	}
	return binary.BigEndian.Uint64(v), nil
}

// corrupt wraps errCorrupt with where it was found, so that the caller's log
// names the bucket and the key.
func corrupt(bucket string, key []byte, err error) error {
	return fmt.Errorf("bucket %s key %x: %w", bucket, key, err)
}
