package postfix

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/postfix/*.log")
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.Add(sc.Text())
		}
		fh.Close()
	}
	f.Add(strings.Repeat("Nov 22 09:15:02 h postfix/smtp[1]: AAAAAA: to=<", 2000))
	f.Fuzz(func(t *testing.T, line string) {
		p := New(Options{Reference: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), Location: time.UTC})
		ev, ok, err := p.Parse(line)
		if err != nil && ok {
			t.Fatal("ok with an error")
		}
		if !ok {
			return
		}
		if ev.RecipientDomain == "" || ev.RecipientDomain != strings.ToLower(ev.RecipientDomain) {
			t.Errorf("recipient domain %q", ev.RecipientDomain)
		}
		if ev.SMTPCode != 0 && (ev.SMTPCode < 200 || ev.SMTPCode > 599) {
			t.Errorf("smtp code %d", ev.SMTPCode)
		}
		if ev.Status != event.Delivered && ev.Status != event.Deferred && ev.Status != event.Bounced {
			t.Errorf("status %q", ev.Status)
		}
		if ev.Time.IsZero() || ev.Time.Location() != time.UTC {
			t.Errorf("time %v", ev.Time)
		}
	})
}
