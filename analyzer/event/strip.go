package event

import (
	"fmt"
	"strings"
)

// Strip is a set of optional fields to remove from events before they are
// analysed, to measure detection on a sparse platform: many apps send no
// device id, no location and no address. Replay (`ronda replay --strip`) and
// the backtests use it on the public scenarios and simulated worlds.
type Strip uint8

const (
	// StripDevice removes stream.start's device_id. It keeps `link rel=device`
	// events: an app without device ids may still say that an account logged in
	// on another's device.
	StripDevice Strip = 1 << iota
	// StripGeo removes stream.start's geo.
	StripGeo
	// StripAddress removes stream.start's ip and stream.wire's network.
	StripAddress
)

// StripAll is every field Strip knows: device, geo and address.
const StripAll = StripDevice | StripGeo | StripAddress

var stripNames = [...]struct {
	name string
	s    Strip
}{{"device", StripDevice}, {"geo", StripGeo}, {"address", StripAddress}}

// ParseStrip reads a comma list of "device", "geo", "address" (or "all"); ""
// strips nothing.
func ParseStrip(list string) (Strip, error) {
	var s Strip
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f == "all" {
			s |= StripAll
			continue
		}
		ok := false
		for _, n := range stripNames {
			if n.name == f {
				s, ok = s|n.s, true
			}
		}
		if !ok {
			return 0, fmt.Errorf("strip: unknown field %q (want device, geo, address or all)", f)
		}
	}
	return s, nil
}

// String lists the stripped fields, "none" for none.
func (s Strip) String() string {
	var out []string
	for _, n := range stripNames {
		if s&n.s != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// Apply removes the fields of s from ev.
func (s Strip) Apply(ev *Event) {
	if s == 0 {
		return
	}
	if s&StripDevice != 0 {
		ev.DeviceID = ""
	}
	if s&StripGeo != 0 {
		ev.Geo = nil
	}
	if s&StripAddress != 0 {
		ev.IP, ev.Network = "", ""
	}
}
