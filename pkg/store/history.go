package store

import (
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// IPHistory is a sending IP's past (the one type of it).
type IPHistory = event.IPHistory

var (
	// ipFirstName: field(ip) -> int64 the minute of its first attempt (unix
	// microseconds); kept for good, one key per source IP.
	ipFirstName = []byte("ip_first")
	// ipDaysName: field(ip) int64 day (unix days, sign bit flipped) ->
	// uint64 attempts; kept for EpisodeRetention.
	ipDaysName = []byte("ip_days")
)

// A day is a jump when its attempts are at least jumpFloor and more than
// jumpFactor times the median of the jumpDays days before it (days without
// attempts count as 0, days before the IP was first seen do not count):
// a warming IP doubling its volume every day is not one, an IP that sends
// ten times its usual is.
const (
	jumpFactor = 3
	jumpFloor  = 1000
	jumpDays   = 7
)

const minutesPerDay = 24 * 60

// applyHistory adds a batch's cells to the IPs' first minutes and daily
// attempts, and moves the event clock to its latest minute.
func (s *Store) applyHistory(tx *bolt.Tx, counts map[BucketKey]uint64) error {
	if len(counts) == 0 {
		return nil
	}
	type ipDay struct {
		ip  string
		day int64
	}
	days := map[ipDay]uint64{}
	first := map[string]int64{}
	latest := int64(-1 << 63)
	for k, n := range counts {
		if n == 0 {
			continue
		}
		ip := k.Series.SourceIP
		days[ipDay{ip, floorDiv(k.Minute, minutesPerDay)}] += n
		if m, ok := first[ip]; !ok || k.Minute < m {
			first[ip] = k.Minute
		}
		latest = max(latest, k.Minute)
	}
	if len(days) == 0 {
		return nil
	}
	fb, err := tx.CreateBucketIfNotExists(ipFirstName)
	if err != nil {
		return err
	}
	for ip, m := range first {
		k := replyPrefix(ip)
		t := m * 60e6
		if v := fb.Get(k); v != nil {
			cur, err := decodeUint64(v)
			if err != nil {
				return corrupt(string(ipFirstName), k, err)
			}
			if int64(cur) <= t {
				continue
			}
		}
		if err := fb.Put(k, encodeUint64(uint64(t))); err != nil {
			return err
		}
	}
	db, err := tx.CreateBucketIfNotExists(ipDaysName)
	if err != nil {
		return err
	}
	for d, n := range days {
		k := appendOrdered(replyPrefix(d.ip), d.day)
		var cur uint64
		if v := db.Get(k); v != nil {
			if cur, err = decodeUint64(v); err != nil {
				return corrupt(string(ipDaysName), k, err)
			}
		}
		if err := db.Put(k, encodeUint64(cur+n)); err != nil {
			return err
		}
	}
	cb, err := tx.CreateBucketIfNotExists(clockName)
	if err != nil {
		return err
	}
	now, err := clock(tx)
	if err != nil {
		return err
	}
	if t := latest * 60e6; t > now {
		return cb.Put(keyLatest, encodeUint64(uint64(t)))
	}
	return nil
}

func decodeDayKey(k []byte) (ip string, day int64, err error) {
	ip, rest, err := readField(k)
	if err != nil || len(rest) != 8 {
		return "", 0, errCorrupt
	}
	return ip, getOrdered(rest), nil
}

// IPHistory returns what the store knows of sourceIP's past ("" is the
// unknown IP): when it was first seen, its attempts per day, and the days
// its volume jumped.
func (s *Store) IPHistory(sourceIP string) (IPHistory, error) {
	h := IPHistory{SourceIP: sourceIP, Days: []event.DayVolume{}, Jumps: []event.VolumeJump{}}
	var days []int64
	var volumes []uint64
	err := s.view(func(tx *bolt.Tx) error {
		k := replyPrefix(sourceIP)
		if fb := tx.Bucket(ipFirstName); fb != nil {
			if v := fb.Get(k); v != nil {
				t, err := decodeUint64(v)
				if err != nil {
					return corrupt(string(ipFirstName), k, err)
				}
				h.FirstSeen = time.UnixMicro(int64(t)).UTC()
			}
		}
		db := tx.Bucket(ipDaysName)
		if db == nil {
			return nil
		}
		return scanPrefix(db, k, func(k, v []byte) error {
			_, day, err := decodeDayKey(k)
			if err != nil {
				return corrupt(string(ipDaysName), k, err)
			}
			n, err := decodeUint64(v)
			if err != nil {
				return corrupt(string(ipDaysName), k, err)
			}
			days, volumes = append(days, day), append(volumes, n)
			return nil
		})
	})
	if err != nil {
		return IPHistory{}, fmt.Errorf("read ip history: %w", err)
	}
	firstDay := floorDiv(h.FirstSeen.Unix(), 86400)
	for i, day := range days {
		h.Days = append(h.Days, event.DayVolume{Day: dayString(day), Attempts: volumes[i]})
		if volumes[i] < jumpFloor || day <= firstDay {
			continue
		}
		var before []uint64
		for d := max(day-jumpDays, firstDay); d < day; d++ {
			n := uint64(0)
			if j, ok := slices.BinarySearch(days, d); ok {
				n = volumes[j]
			}
			before = append(before, n)
		}
		if m := median(before); float64(volumes[i]) > jumpFactor*m {
			h.Jumps = append(h.Jumps, event.VolumeJump{Day: dayString(day), Attempts: volumes[i], Median: m})
		}
	}
	return h, nil
}

func dayString(day int64) string {
	return time.Unix(day*86400, 0).UTC().Format(time.DateOnly)
}

func median(v []uint64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return (float64(s[n/2-1]) + float64(s[n/2])) / 2
}

// pruneDays deletes at most limit IP days before cutoff's day.
func (s *Store) pruneDays(tx *bolt.Tx, cutoff time.Time, limit int) (int, error) {
	db := tx.Bucket(ipDaysName)
	if db == nil || limit <= 0 {
		return 0, nil
	}
	end := floorDiv(cutoff.Unix(), 86400)
	var old [][]byte
	c := db.Cursor()
	for k, _ := c.First(); k != nil && len(old) < limit; k, _ = c.Next() {
		_, day, err := decodeDayKey(k)
		if err != nil {
			return 0, corrupt(string(ipDaysName), k, err)
		}
		if day < end {
			old = append(old, slices.Clone(k))
		}
	}
	return deleteKeys(db, old)
}

// checkHistoryRecord decodes a record of the episodes and history buckets.
func checkHistoryRecord(bucket string, k, v []byte) (bool, error) {
	switch bucket {
	case string(episodesName):
		_, err := decodeEpisode(k, v)
		return true, err
	case string(ipFirstName):
		if _, rest, err := readField(k); err != nil || len(rest) != 0 {
			return true, fmt.Errorf("key: %w", errCorrupt)
		}
		_, err := decodeUint64(v)
		return true, err
	case string(ipDaysName):
		if _, _, err := decodeDayKey(k); err != nil {
			return true, err
		}
		_, err := decodeUint64(v)
		return true, err
	case string(clockName):
		if string(k) != string(keyLatest) {
			return true, fmt.Errorf("unknown key: %w", errCorrupt)
		}
		_, err := decodeUint64(v)
		return true, err
	}
	return false, nil
}

func historyBucket(name string) bool {
	switch name {
	case string(episodesName), string(ipFirstName), string(ipDaysName), string(clockName):
		return true
	}
	return false
}

// historyLosses says what repair's losses in the episode and history
// buckets mean.
func historyLosses(rep *RepairReport) []string {
	lost := func(b []byte) bool { return rep.Unread[string(b)]+rep.Dropped[string(b)] > 0 }
	var out []string
	if lost(episodesName) {
		out = append(out, "episodes: some could not be read; they are gone from the IP pages, and a failure that would have extended one opens a new one")
	}
	if lost(ipFirstName) {
		out = append(out, "first seen: some IPs' could not be read; they count as first seen at their next attempt")
	}
	if lost(ipDaysName) {
		out = append(out, "daily volumes: some could not be read; those days show fewer attempts, and volume jumps are judged without them")
	}
	if lost(clockName) {
		out = append(out, "event clock: lost; open episodes stay open until the next commit moves it")
	}
	return out
}
