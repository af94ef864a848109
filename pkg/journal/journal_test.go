package journal

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Entry
		err  string
	}{
		{`{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1795338902123456","_HOSTNAME":"mta1","SYSLOG_IDENTIFIER":"postfix/smtp","SYSLOG_PID":"1410","_PID":"1410","MESSAGE":"4C6D21A0B3F: to=<a@b.example>, relay=none, delay=1, status=deferred (x)"}`,
			Entry{Line: "2026-11-22T09:15:02.123456Z mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<a@b.example>, relay=none, delay=1, status=deferred (x)", Cursor: "s=1;i=2"}, ""},
		// journalctl writes non-UTF-8 values as byte arrays.
		{`{"__CURSOR":"c","__REALTIME_TIMESTAMP":"0","SYSLOG_IDENTIFIER":"exim","_PID":"7","MESSAGE":[104,105,255]}`,
			Entry{Line: "1970-01-01T00:00:00.000000Z localhost exim[7]: hi\xff", Cursor: "c"}, ""},
		{`{"__REALTIME_TIMESTAMP":"0"}`, Entry{}, "entry without __CURSOR"},
		{`{"__CURSOR":"c","__REALTIME_TIMESTAMP":"x"}`, Entry{}, `entry c: __REALTIME_TIMESTAMP: strconv.ParseInt: parsing "x": invalid syntax`},
	} {
		got, err := Decode([]byte(tt.in))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s: err %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Error(d)
		}
	}
}

func TestArgs(t *testing.T) {
	got := Args(Config{Units: []string{"postfix@-.service", "exim4.service"}, Cursor: "s=1"})
	want := []string{"--follow", "--output=json", "--no-pager", "--all", "--unit=postfix@-.service", "--unit=exim4.service", "--after-cursor=s=1"}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}
