package chtest

import (
	"strings"
	"testing"
)

func TestStartClientRestart(t *testing.T) {
	s := Start(t)
	out, err := s.Client("SELECT 1 + 1")
	if err != nil || strings.TrimSpace(out) != "2" {
		t.Fatalf("client: %q %v", out, err)
	}
	if _, err := s.Client("CREATE TABLE default.t (x UInt8) ENGINE = MergeTree ORDER BY x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client("INSERT INTO default.t (x) VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if s.Running() {
		t.Fatal("running after Kill")
	}
	s.Restart(t)
	out, err = s.Client("SELECT sum(x) FROM default.t")
	if err != nil || strings.TrimSpace(out) != "7" {
		t.Fatalf("after restart: %q %v", out, err)
	}
}
