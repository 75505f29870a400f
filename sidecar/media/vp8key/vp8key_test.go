package vp8key

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
)

// fixture is a tiny VP8 IVF stream ffmpeg made from its testsrc2 pattern
// (64x48, 4 frames, a keyframe every 2):
//
//	ffmpeg -f lavfi -i testsrc2=size=64x48:rate=5 -frames:v 4 -c:v libvpx -g 2 -b:v 50k -f ivf -
func fixture(t testing.TB) [][]byte {
	b, err := os.ReadFile("testdata/testsrc2-64x48.ivf")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for b = b[binary.LittleEndian.Uint16(b[6:8]):]; len(b) >= 12; {
		n := int(binary.LittleEndian.Uint32(b[:4]))
		out = append(out, b[12:12+n])
		b = b[12+n:]
	}
	return out
}

func TestDecode(t *testing.T) {
	fr := fixture(t)
	d := NewDecoder()
	img, err := d.Decode(fr[0], 64*48, 5)
	if err != nil || img.Bounds().Dx() != 64 || img.Bounds().Dy() != 48 {
		t.Fatalf("keyframe: %v %v", err, img)
	}
	if _, err := d.Decode(fr[1], 64*48, 5); !errors.Is(err, ErrNotKeyframe) {
		t.Errorf("interframe: %v", err)
	}
	if _, err := d.Decode(fr[0], 64*48-1, 5); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("pixel bound: %v", err)
	}
	if _, err := d.Decode(fr[0], 64*48, 49); !errors.Is(err, ErrInvalid) {
		t.Errorf("min dim: %v", err)
	}
	for _, junk := range [][]byte{nil, {0x10}, {0x10, 0x02, 0x00, 1, 2, 3, 4, 5, 6, 7}, fr[0][:20]} {
		if _, err := d.Decode(junk, 1<<20, 5); !errors.Is(err, ErrInvalid) {
			t.Errorf("%x: %v", junk, err)
		}
	}
	// A smaller frame after a larger one gets its own size.
	big := append([]byte{}, fr[2]...)
	if img, err := d.Decode(big, 1<<20, 5); err != nil || img.Bounds().Dx() != 64 {
		t.Fatalf("second keyframe: %v", err)
	}
}

// FuzzDecode: whatever arrives as a VP8 frame gives an image within the
// bounds or one of the documented errors; nothing panics.
func FuzzDecode(f *testing.F) {
	for _, fr := range fixture(f) {
		f.Add(fr)
	}
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := d.Decode(data, 128*128, 5)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotKeyframe) && !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if b := img.Bounds(); b.Dx()*b.Dy() > 128*128 || b.Dx() < 5 || b.Dy() < 5 {
			t.Fatalf("image %v", b)
		}
	})
}
