package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
)

const episodesConfig = `listen: 127.0.0.1:0
state_file: %[1]s/ppwatch.db
flush_interval: 20ms
inputs: [{path: %[1]s/mail.log, mta: postfix}]
source_ips:
  - {mta: postfix, instance: postfix-a, ip: 192.0.2.25}
  - {mta: postfix, instance: postfix-b, ip: 192.0.2.26}
`

// episodeLine is one Postfix attempt to Proofpoint at 10:00 + at: from
// instance a (192.0.2.25) or b (192.0.2.26), delivered, blocked or
// deferred.
func episodeLine(n int, at, instance, rcpt, outcome string) string {
	ip := map[string]string{"a": "192.0.2.25", "b": "192.0.2.26"}[instance]
	d, err := time.ParseDuration(at)
	if err != nil {
		panic(err)
	}
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(d).Format(time.RFC3339)
	status := "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4b1x9rj0ep-1)"
	switch outcome {
	case "block":
		status = "dsn=5.7.1, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=" + ip + " (in reply to MAIL FROM command))"
	case "deferral":
		status = "dsn=4.7.0, status=deferred (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 421 4.7.0 [TSS04] Deferred - see https://ipcheck.proofpoint.com/?ip=" + ip + " (in reply to MAIL FROM command))"
	}
	return fmt.Sprintf("%s mta1 postfix-%s/smtp[1410]: 4C6D21A%04d: to=<%s>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1.2, delays=0.05/0.01/0.61/0.53, %s",
		ts, instance, n, rcpt, status)
}

// The log of the episode tests, in three parts: a block episode of
// 192.0.2.25 is open when the first part ends and goes on in the second;
// its first deferral episode closes, by event time, in the third, where a
// second one opens.
var episodeLog = [][]string{{
	episodeLine(1, "0s", "a", "j@acme-corp.example", "block"),
	episodeLine(2, "30s", "a", "k@acme-corp.example", "sent"),
	episodeLine(3, "5m", "a", "l@wayne.example", "block"),
	episodeLine(4, "20m", "a", "m@acme-corp.example", "sent"),
}, {
	episodeLine(5, "30m", "a", "j@acme-corp.example", "deferral"),
	episodeLine(6, "45m", "a", "j@acme-corp.example", "block"),
	episodeLine(7, "45m10s", "a", "n@wayne.example", "sent"),
	episodeLine(8, "70m", "b", "x@initech.example", "sent"),
}, {
	episodeLine(9, "120m", "a", "j@acme-corp.example", "deferral"),
	episodeLine(10, "130m", "a", "o@wayne.example", "sent"),
	episodeLine(11, "170m", "b", "x@initech.example", "block"),
}}

type episodeRun struct {
	t   *testing.T
	dir string
	a   *App
}

func (r *episodeRun) start() {
	r.t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(episodesConfig, r.dir)), "test.yml")
	if err != nil {
		r.t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC) }
	if r.a, err = New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(r.t)), Now: now}); err != nil {
		r.t.Fatal(err)
	}
	if err := r.a.Start(); err != nil {
		r.t.Fatal(err)
	}
}

// write appends lines to the log and waits until the App has read them.
func (r *episodeRun) write(lines []string) {
	r.t.Helper()
	path := filepath.Join(r.dir, "mail.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		r.t.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	eventually(r.t, "the log read", func() bool {
		v, _ := sample(r.t, r.a, `ppwatch_input_offset_bytes{input="`+path+`"}`)
		return int64(v) == st.Size()
	})
}

func (r *episodeRun) stop() {
	r.t.Helper()
	if err := r.a.Stop(); err != nil {
		r.t.Fatal(err)
	}
}

// apiFields returns the IP API's episode and history fields of ip, as
// served.
func apiFields(t *testing.T, a *App, ip string) string {
	t.Helper()
	var rep map[string]json.RawMessage
	if err := json.Unmarshal([]byte(get(t, a, "/api/v1/ip/"+ip)), &rep); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range []string{"episodes", "episodes_total", "history"} {
		fmt.Fprintf(&b, "%q: %s\n", k, rep[k])
	}
	return b.String()
}

const wantEpisodesAPI = `"episodes": [
    {
      "source_ip": "192.0.2.25",
      "recipient_domain": "",
      "kind": "deferral",
      "start": "2026-11-22T12:00:00Z",
      "end": "2026-11-22T12:00:00Z",
      "open": true,
      "attempts": 1,
      "blocks": 0,
      "deferrals": 1,
      "domains": [
        {
          "recipient_domain": "acme-corp.example",
          "failures": 1
        }
      ],
      "reply": {
        "source_ip": "192.0.2.25",
        "recipient_domain": "",
        "response": "421 4.7.0 [TSS04] Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.25",
        "smtp_code": 421,
        "enhanced_code": "4.7.0",
        "class": "reputation",
        "count": 1,
        "first_seen": "2026-11-22T12:00:00Z",
        "last_seen": "2026-11-22T12:00:00Z"
      }
    },
    {
      "source_ip": "192.0.2.25",
      "recipient_domain": "acme-corp.example",
      "kind": "deferral",
      "start": "2026-11-22T12:00:00Z",
      "end": "2026-11-22T12:00:00Z",
      "open": true,
      "attempts": 1,
      "blocks": 0,
      "deferrals": 1,
      "domains": [
        {
          "recipient_domain": "acme-corp.example",
          "failures": 1
        }
      ],
      "reply": {
        "source_ip": "192.0.2.25",
        "recipient_domain": "acme-corp.example",
        "response": "421 4.7.0 [TSS04] Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.25",
        "smtp_code": 421,
        "enhanced_code": "4.7.0",
        "class": "reputation",
        "count": 1,
        "first_seen": "2026-11-22T12:00:00Z",
        "last_seen": "2026-11-22T12:00:00Z"
      }
    },
    {
      "source_ip": "192.0.2.25",
      "recipient_domain": "",
      "kind": "deferral",
      "start": "2026-11-22T10:30:00Z",
      "end": "2026-11-22T10:30:00Z",
      "open": false,
      "attempts": 1,
      "blocks": 0,
      "deferrals": 1,
      "domains": [
        {
          "recipient_domain": "acme-corp.example",
          "failures": 1
        }
      ],
      "reply": {
        "source_ip": "192.0.2.25",
        "recipient_domain": "",
        "response": "421 4.7.0 [TSS04] Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.25",
        "smtp_code": 421,
        "enhanced_code": "4.7.0",
        "class": "reputation",
        "count": 1,
        "first_seen": "2026-11-22T10:30:00Z",
        "last_seen": "2026-11-22T10:30:00Z"
      }
    },
    {
      "source_ip": "192.0.2.25",
      "recipient_domain": "acme-corp.example",
      "kind": "deferral",
      "start": "2026-11-22T10:30:00Z",
      "end": "2026-11-22T10:30:00Z",
      "open": false,
      "attempts": 1,
      "blocks": 0,
      "deferrals": 1,
      "domains": [
        {
          "recipient_domain": "acme-corp.example",
          "failures": 1
        }
      ],
      "reply": {
        "source_ip": "192.0.2.25",
        "recipient_domain": "acme-corp.example",
        "response": "421 4.7.0 [TSS04] Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.25",
        "smtp_code": 421,
        "enhanced_code": "4.7.0",
        "class": "reputation",
        "count": 1,
        "first_seen": "2026-11-22T10:30:00Z",
        "last_seen": "2026-11-22T10:30:00Z"
      }
    },
    {
      "source_ip": "192.0.2.25",
      "recipient_domain": "wayne.example",
      "kind": "block",
      "start": "2026-11-22T10:05:00Z",
      "end": "2026-11-22T10:05:00Z",
      "open": false,
      "attempts": 1,
      "blocks": 1,
      "deferrals": 0,
      "domains": [
        {
          "recipient_domain": "wayne.example",
          "failures": 1
        }
      ],
      "reply": {
        "source_ip": "192.0.2.25",
        "recipient_domain": "wayne.example",
        "response": "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25",
        "smtp_code": 554,
        "enhanced_code": "5.7.1",
        "class": "reputation",
        "count": 1,
        "first_seen": "2026-11-22T10:05:00Z",
        "last_seen": "2026-11-22T10:05:00Z"
      }
    },
    {
      "source_ip": "192.0.2.25",
      "recipient_domain": "",
      "kind": "block",
      "start": "2026-11-22T10:00:00Z",
      "end": "2026-11-22T10:45:00Z",
      "open": false,
      "attempts": 7,
      "blocks": 3,
      "deferrals": 1,
      "domains": [
        {
          "recipient_domain": "acme-corp.example",
          "failures": 2
        },
        {
          "recipient_domain": "wayne.example",
          "failures": 1
        }
      ],
      "reply": {
        "source_ip": "192.0.2.25",
        "recipient_domain": "",
        "response": "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25",
        "smtp_code": 554,
        "enhanced_code": "5.7.1",
        "class": "reputation",
        "count": 3,
        "first_seen": "2026-11-22T10:00:00Z",
        "last_seen": "2026-11-22T10:45:00Z"
      }
    },
    {
      "source_ip": "192.0.2.25",
      "recipient_domain": "acme-corp.example",
      "kind": "block",
      "start": "2026-11-22T10:00:00Z",
      "end": "2026-11-22T10:45:00Z",
      "open": false,
      "attempts": 5,
      "blocks": 2,
      "deferrals": 1,
      "domains": [
        {
          "recipient_domain": "acme-corp.example",
          "failures": 2
        }
      ],
      "reply": {
        "source_ip": "192.0.2.25",
        "recipient_domain": "acme-corp.example",
        "response": "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25",
        "smtp_code": 554,
        "enhanced_code": "5.7.1",
        "class": "reputation",
        "count": 2,
        "first_seen": "2026-11-22T10:00:00Z",
        "last_seen": "2026-11-22T10:45:00Z"
      }
    }
  ]
"episodes_total": 7
"history": {
    "source_ip": "192.0.2.25",
    "first_seen": "2026-11-22T10:00:00Z",
    "days": [
      {
        "day": "2026-11-22",
        "attempts": 9
      }
    ],
    "jumps": []
  }
`

// Episodes opening and closing across restarts: the log read in three
// parts with a restart after each (an episode open at the first one goes
// on after it; another closes by event time after the second) gives the
// IP API the same episodes and history as the log read in one go, and
// those are exactly the ones expected.
func TestEpisodesAcrossRestarts(t *testing.T) {
	once := &episodeRun{t: t, dir: t.TempDir()}
	once.start()
	defer once.stop()
	var all []string
	for _, part := range episodeLog {
		all = append(all, part...)
	}
	once.write(all)
	want := map[string]string{}
	for _, ip := range []string{"192.0.2.25", "192.0.2.26"} {
		want[ip] = apiFields(t, once.a, ip)
	}
	if d := cmp.Diff(wantEpisodesAPI, want["192.0.2.25"]); d != "" {
		t.Errorf("episodes of 192.0.2.25 (-want +got):\n%s", d)
	}

	parts := &episodeRun{t: t, dir: t.TempDir()}
	for i, part := range episodeLog {
		parts.start()
		parts.write(part)
		if i == 0 {
			// The block episode is open at the restart.
			if got := apiFields(t, parts.a, "192.0.2.25"); !strings.Contains(got, `"end": "2026-11-22T10:05:00Z",
      "open": true`) {
				t.Errorf("after the first part:\n%s", got)
			}
		}
		parts.stop()
	}
	parts.start()
	defer parts.stop()
	for _, ip := range []string{"192.0.2.25", "192.0.2.26"} {
		if d := cmp.Diff(want[ip], apiFields(t, parts.a, ip)); d != "" {
			t.Errorf("%s read in parts with restarts (-in one go +in parts):\n%s", ip, d)
		}
	}
}
