package event

import "testing"

func TestStrip(t *testing.T) {
	s, err := ParseStrip("device, address")
	if err != nil || s != StripDevice|StripAddress || s.String() != "device,address" {
		t.Fatalf("ParseStrip = %v %v", s, err)
	}
	if s, _ := ParseStrip("all"); s != StripAll || s.String() != "device,geo,address" {
		t.Fatalf("all = %v", s)
	}
	if s, _ := ParseStrip(""); s != 0 || s.String() != "none" {
		t.Fatalf("empty = %v", s)
	}
	if _, err := ParseStrip("device,phone"); err == nil {
		t.Fatal("unknown field accepted")
	}
	ev := Event{DeviceID: "d1", IP: "10.0.0.1", Geo: &Geo{Lat: 1}, Network: "10.0.0.0/24", FromID: "a", Rel: "device"}
	StripGeo.Apply(&ev)
	if ev.Geo != nil || ev.DeviceID != "d1" || ev.IP == "" {
		t.Fatalf("geo only: %+v", ev)
	}
	StripAll.Apply(&ev)
	if ev.DeviceID != "" || ev.IP != "" || ev.Network != "" || ev.Rel != "device" {
		t.Fatalf("all: %+v", ev)
	}
}
