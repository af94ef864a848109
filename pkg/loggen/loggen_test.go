package loggen

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	na, err := Write(&a, Options{Lines: 5000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	Write(&b, Options{Lines: 5000, Seed: 7})
	if !bytes.Equal(a.Bytes(), b.Bytes()) || int64(a.Len()) != na {
		t.Fatal("same seed, different bytes")
	}
	if n := strings.Count(a.String(), "\n"); n != 5000 {
		t.Fatalf("%d lines", n)
	}
	var c bytes.Buffer
	Write(&c, Options{Lines: 5000, Seed: 8})
	if sha256.Sum256(a.Bytes()) == sha256.Sum256(c.Bytes()) {
		t.Fatal("different seeds, same bytes")
	}
	// About 10% of attempts go to Proofpoint.
	attempts := strings.Count(a.String(), ": to=<")
	pp := strings.Count(a.String(), "@corp")
	ratio := float64(pp) / float64(attempts)
	if ratio < 0.06 || ratio > 0.14 {
		t.Errorf("proofpoint share %s", fmt.Sprintf("%.3f", ratio))
	}
}
