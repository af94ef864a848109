package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const reference = "../../docs/configuration.md"

// The installed config takes no example value into effect: loaded, it is
// the defaults.
func TestShippedConfigSetsNothing(t *testing.T) {
	c, err := Load("../../configs/ppwatch.yml")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Default(), c, cmpopts.IgnoreUnexported(Config{}), cmpopts.IgnoreFields(Config{}, "File", "Location")); d != "" || c.Location != time.Local {
		t.Errorf("configs/ppwatch.yml sets (-default +shipped):\n%s", d)
	}
}

// codeKeys are the config's keys as dotted paths ("inputs[].path"). A
// struct met again under another key (the targets of alertmanagers and
// webhooks) is documented once, under its first key.
func codeKeys() []string {
	var keys []string
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Slice:
			walk(t.Elem(), path+"[]")
		case reflect.Struct:
			if seen[t] {
				return
			}
			seen[t] = true
			for i := range t.NumField() {
				tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
				if tag == "" || tag == "-" {
					continue
				}
				key := join(path, tag)
				keys = append(keys, key)
				walk(t.Field(i).Type, key)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return keys
}

// The reference documents every key the code reads, and no other: each
// key is the first cell of a table row.
func TestReferenceListsEveryKey(t *testing.T) {
	data, err := os.ReadFile(reference)
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.\\[\\]]+)` \\|").FindAllStringSubmatch(string(data), -1) {
		documented = append(documented, m[1])
	}
	code := codeKeys()
	if len(code) < 50 {
		t.Fatalf("only %d keys found in the code", len(code))
	}
	for _, k := range code {
		if !slices.Contains(documented, k) {
			t.Errorf("%s: key %s is not documented", reference, k)
		}
	}
	for _, k := range documented {
		if !slices.Contains(code, k) && !slices.Contains(code, strings.Replace(k, "webhooks", "alertmanagers", 1)) {
			t.Errorf("%s: documents %s, which no code reads", reference, k)
		}
	}
}

// Every example of the reference is a whole config that loads.
func TestReferenceExamplesLoad(t *testing.T) {
	data, err := os.ReadFile(reference)
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(data, -1)
	if len(blocks) < 4 {
		t.Fatalf("%d yaml examples", len(blocks))
	}
	for i, b := range blocks {
		if _, err := Parse(b[1], reference); err != nil {
			t.Errorf("example %d: %v", i+1, err)
		}
	}
}
