package notify

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestQueue(t *testing.T) {
	a := func(name, v string) Alert {
		return Alert{Labels: map[string]string{"alertname": name}, Annotations: map[string]string{"v": v}}
	}
	for _, tc := range []struct {
		name        string
		size        int
		pushes      [][]Alert
		wantDropped int
		pop         int
		want        []Alert
		wantLeft    int
	}{
		{"fifo", 10, [][]Alert{{a("A", "1"), a("B", "1")}, {a("C", "1")}}, 0, 10,
			[]Alert{a("A", "1"), a("B", "1"), a("C", "1")}, 0},
		{"pop at most", 10, [][]Alert{{a("A", "1"), a("B", "1"), a("C", "1")}}, 0, 2,
			[]Alert{a("A", "1"), a("B", "1")}, 1},
		{"newer copy replaces in place", 10, [][]Alert{{a("A", "1"), a("B", "1")}, {a("A", "2")}}, 0, 10,
			[]Alert{a("A", "2"), a("B", "1")}, 0},
		{"copy within one push", 10, [][]Alert{{a("A", "1"), a("A", "2")}}, 0, 10,
			[]Alert{a("A", "2")}, 0},
		{"oldest dropped", 2, [][]Alert{{a("A", "1"), a("B", "1")}, {a("C", "1"), a("D", "1")}}, 2, 10,
			[]Alert{a("C", "1"), a("D", "1")}, 0},
		{"a dropped alert may come back", 2, [][]Alert{{a("A", "1"), a("B", "1"), a("C", "1")}, {a("A", "2")}}, 2, 10,
			[]Alert{a("C", "1"), a("A", "2")}, 0},
		{"empty", 2, nil, 0, 10, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			length := prometheus.NewGauge(prometheus.GaugeOpts{Name: "l", Help: "l."})
			q := newQueue(tc.size, length)
			dropped := 0
			for _, p := range tc.pushes {
				dropped += q.push(p)
			}
			if dropped != tc.wantDropped {
				t.Errorf("dropped %d, want %d", dropped, tc.wantDropped)
			}
			if diff := cmp.Diff(tc.want, q.pop(tc.pop)); diff != "" {
				t.Errorf("pop (-want +got):\n%s", diff)
			}
			if l := testutil.ToFloat64(length); int(l) != tc.wantLeft {
				t.Errorf("length gauge %v, want %d", l, tc.wantLeft)
			}
			if left := q.clear(); left != tc.wantLeft {
				t.Errorf("left %d, want %d", left, tc.wantLeft)
			}
		})
	}
}

func TestLabelKey(t *testing.T) {
	for _, tc := range []struct{ a, b map[string]string }{
		{map[string]string{"a": "b,c"}, map[string]string{"a": "b", "c": ""}},
		{map[string]string{"a": "bc"}, map[string]string{"ab": "c"}},
		{map[string]string{}, map[string]string{"": ""}},
	} {
		if labelKey(tc.a) == labelKey(tc.b) {
			t.Errorf("%v and %v share a key", tc.a, tc.b)
		}
	}
	if labelKey(map[string]string{"x": "1", "y": "2"}) != labelKey(map[string]string{"y": "2", "x": "1"}) {
		t.Error("key depends on map order")
	}
}
