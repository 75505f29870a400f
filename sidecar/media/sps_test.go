package media

import (
	"encoding/hex"
	"testing"

	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

// SPSs x264 wrote (ffmpeg -f lavfi -i testsrc=size=WxH -c:v libx264
// -profile:v P): high profile with its chroma and bit depth fields, main,
// baseline, 4:4:4, 1080 lines cropped from 1088.
var x264SPS = []struct {
	name string
	w, h int
	hex  string
}{
	{"1280x720 high", 1280, 720, "6764001facd9405005bb0110000003001000000303c0f1831960"},
	{"1920x1080 high", 1920, 1080, "67640028acd940780227e5c044000003000400000300f03c60c658"},
	{"854x480 main", 854, 480, "674d401feca06c1ef3780880000003008000001e078c18cb"},
	{"1280x720 baseline", 1280, 720, "6742c01fd9005005bb0110000003001000000303c0f1832480"},
	{"1280x720 high 4:4:4", 1280, 720, "67f4001f919b280a00b76022000003000200000300781e30632c"},
}

func TestParseSPS(t *testing.T) {
	t.Parallel()
	for _, c := range x264SPS {
		t.Run(c.name, func(t *testing.T) {
			nal, _ := hex.DecodeString(c.hex)
			s, err := ParseSPS(nal)
			if err != nil {
				t.Fatal(err)
			}
			if s.Width != c.w || s.Height != c.h {
				t.Fatalf("%dx%d, want %dx%d", s.Width, s.Height, c.w, c.h)
			}
		})
	}
	for _, wh := range [][2]int{{640, 360}, {1920, 1080}, {176, 144}, {1366, 768}} {
		s, err := ParseSPS(mediatest.SPS(wh[0], wh[1]))
		if err != nil || s.Width != wh[0] || s.Height != wh[1] {
			t.Errorf("test SPS %v: %+v %v", wh, s, err)
		}
	}
	for name, b := range map[string][]byte{
		"empty":        nil,
		"not an SPS":   {0x68, 1, 2, 3, 4},
		"truncated":    {0x67, 0x64, 0x00, 0x1f},
		"all zeros":    make([]byte, 64),
		"huge picture": mediatest.SPS(20000, 720),
	} {
		if _, err := ParseSPS(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParseSPS(f *testing.F) {
	for _, c := range x264SPS {
		b, _ := hex.DecodeString(c.hex)
		f.Add(b)
	}
	f.Add(mediatest.SPS(1280, 720))
	f.Add([]byte{0x67, 0x64, 0, 0x1f, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSPS(b)
		if err != nil {
			return
		}
		if s.Width <= 0 || s.Height <= 0 || s.Width > maxPictureW || s.Height > maxPictureH {
			t.Fatalf("accepted %dx%d", s.Width, s.Height)
		}
	})
}

// FuzzRTPPayload runs the per-packet inspection of every codec over any
// payload: it must never panic, and a VP8 size is within 14 bits.
func FuzzRTPPayload(f *testing.F) {
	f.Add([]byte{0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02})
	f.Add([]byte{0x90, 0xe0, 0x80, 0x01, 0x00, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02})
	f.Add(append([]byte{0x78, 0x00, 0x10}, mediatest.SPS(1280, 720)...))
	f.Add([]byte{0x7c, 0x85, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if vp, start, ok := vp8Descriptor(b); ok && start {
			if _, w, h := vp8Frame(vp); w > 0x3fff || h > 0x3fff {
				t.Fatalf("vp8 %dx%d", w, h)
			}
		}
		if _, sps := h264Packet(b); sps != nil {
			ParseSPS(sps)
		}
	})
}
