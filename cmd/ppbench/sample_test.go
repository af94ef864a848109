package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/loggen"
)

// The shipped Postfix sample is what make sample writes: a generator change
// that alters its bytes shows here, not as a sample no one can make again.
func TestShippedSample(t *testing.T) {
	want, err := os.ReadFile("../../testdata/postfix/sample.log")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := loggen.Write(&got, sampleOptions(240, 42)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("testdata/postfix/sample.log is not what make sample writes (-shipped +generated); run make sample and make golden, and review both diffs:\n%s", diff)
	}
}
