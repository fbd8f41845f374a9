package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// compact returns JSON text without insignificant whitespace.
func compact(t *testing.T, s []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, s); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return b.String()
}

// golden compares got with testdata/name, whitespace aside; with -update it
// writes got there instead.
func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		var b bytes.Buffer
		if err := json.Indent(&b, []byte(got), "", "  "); err != nil {
			t.Fatalf("indent: %v", err)
		}
		b.WriteByte('\n')
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if w := compact(t, want); w != got {
		t.Errorf("response differs from %s\n got: %s\nwant: %s", path, got, w)
	}
}

// normalise replaces the values that change from run to run (UUIDs, times,
// ports) with fixed placeholders, so a body can be compared with a golden
// file.
func normalise(s string) string {
	s = uuidRE.ReplaceAllString(s, "00000000-0000-4000-8000-000000000000")
	s = timeRE.ReplaceAllString(s, "2026-01-01T00:00:00.000000Z")
	s = portRE.ReplaceAllString(s, "127.0.0.1:PORT")
	return s
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)
