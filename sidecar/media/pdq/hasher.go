package pdq

import (
	"image"
	"image/color"
	"math"
	"slices"
	"sync"
)

// MinDim is the smallest width and height hashed; smaller images get the zero
// hash and quality 0, as in the reference.
const MinDim = 5

// Luma coefficients of the reference (BT.601), in float32 as it computes.
const (
	lumaR float32 = 0.299
	lumaG float32 = 0.587
	lumaB float32 = 0.114
)

// dct is the 16x64 DCT-II matrix, rows 1..16 of the full 64-point transform,
// scaled by sqrt(2/64), rounded to float32 as the reference does.
var dct = func() (d [16][64]float32) {
	scale := float64(float32(math.Sqrt(2.0 / 64)))
	for i := range 16 {
		for j := range 64 {
			d[i][j] = float32(scale * math.Cos(math.Pi/2/64*float64(i+1)*float64(2*j+1)))
		}
	}
	return d
}()

// Hasher holds the buffers of one hash so that a worker hashing frame after
// frame allocates nothing. A Hasher is not safe for concurrent use; the zero
// value is ready.
type Hasher struct {
	buf1, buf2 []float32
	sums       []float32
	b64        [64][64]float32
	t16x64     [16][64]float32
	b16        [16][16]float32
}

var hashers = sync.Pool{New: func() any { return new(Hasher) }}

// Image hashes img with a pooled Hasher: the hash and its quality (0..100;
// the reference advises discarding hashes of quality below 50).
func Image(img image.Image) (Hash, int) {
	h := hashers.Get().(*Hasher)
	defer hashers.Put(h)
	return h.Hash(img)
}

// Hash hashes img: the hash and its quality.
func (h *Hasher) Hash(img image.Image) (Hash, int) {
	q, ok := h.dct16(img, true)
	if !ok {
		return Hash{}, 0
	}
	return bitsOf(&h.b16), q
}

// Dihedral is the hash of an image and of its seven rotations and flips, in
// the reference's order.
type Dihedral struct {
	Original, Rotate90, Rotate180, Rotate270, FlipX, FlipY, FlipPlus1, FlipMinus1 Hash
}

// All lists the eight hashes in order.
func (d Dihedral) All() [8]Hash {
	return [8]Hash{d.Original, d.Rotate90, d.Rotate180, d.Rotate270, d.FlipX, d.FlipY, d.FlipPlus1, d.FlipMinus1}
}

// Dihedral hashes img and its rotations and flips from one DCT: a flip or a
// rotation of the image only changes the signs and the order of the DCT
// coefficients, so the seven others cost a transpose each.
func (h *Hasher) Dihedral(img image.Image) (Dihedral, int) {
	q, ok := h.dct16(img, false)
	if !ok {
		return Dihedral{}, 0
	}
	a := &h.b16
	var b [16][16]float32
	variant := func(transpose bool, neg func(i, j int) bool) Hash {
		for i := range 16 {
			for j := range 16 {
				v := a[i][j]
				if neg(i, j) {
					v = -v
				}
				if transpose {
					b[j][i] = v
				} else {
					b[i][j] = v
				}
			}
		}
		return bitsOf(&b)
	}
	return Dihedral{
		Original:   bitsOf(a),
		Rotate90:   variant(true, func(_, j int) bool { return j&1 == 0 }),
		Rotate180:  variant(false, func(i, j int) bool { return (i+j)&1 == 1 }),
		Rotate270:  variant(true, func(i, _ int) bool { return i&1 == 0 }),
		FlipX:      variant(false, func(i, _ int) bool { return i&1 == 0 }),
		FlipY:      variant(false, func(_, j int) bool { return j&1 == 0 }),
		FlipPlus1:  variant(true, func(_, _ int) bool { return false }),
		FlipMinus1: variant(true, func(i, j int) bool { return (i+j)&1 == 1 }),
	}, q
}

// dct16 fills h.b16 with the 16x16 DCT of img's luminance and returns the
// quality; ok is false for an image smaller than MinDim. With exact64, an
// image of 64x64 is taken as already downsampled, unfiltered: the reference
// does so for the single hash and not for the dihedral ones, and so does this.
func (h *Hasher) dct16(img image.Image, exact64 bool) (quality int, ok bool) {
	r := img.Bounds()
	rows, cols := r.Dy(), r.Dx()
	if rows < MinDim || cols < MinDim {
		return 0, false
	}
	n := rows * cols
	if cap(h.buf1) < n {
		h.buf1, h.buf2 = make([]float32, n), make([]float32, n)
	}
	h.buf1, h.buf2 = h.buf1[:n], h.buf2[:n]
	luma(img, h.buf1)
	if exact64 && rows == 64 && cols == 64 {
		for i := range 64 {
			copy(h.b64[i][:], h.buf1[i*64:])
		}
	} else {
		h.jarosz(rows, cols, window(cols), window(rows))
		for i := range 64 {
			ii := int((float64(i) + 0.5) * float64(rows) / 64)
			for j := range 64 {
				jj := int((float64(j) + 0.5) * float64(cols) / 64)
				h.b64[i][j] = h.buf1[ii*cols+jj]
			}
		}
	}
	quality = qualityOf(&h.b64)
	h.dct64To16()
	return quality, true
}

// window is the Jarosz box width that takes dim pixels down to 64.
func window(dim int) int { return (dim + 2*64 - 1) / (2 * 64) }

// luma writes img's luminance, row-major, into out. The YCbCr images that
// JPEG and VP8 decode to carry it already in their Y plane; every other
// image is converted as the reference converts RGB, alpha ignored.
func luma(img image.Image, out []float32) {
	r := img.Bounds()
	w := r.Dx()
	switch m := img.(type) {
	case *image.YCbCr:
		grayRows(m.Y, m.YStride, m.YOffset(r.Min.X, r.Min.Y), r.Dy(), w, out)
	case *image.Gray:
		grayRows(m.Pix, m.Stride, m.PixOffset(r.Min.X, r.Min.Y), r.Dy(), w, out)
	case *image.NRGBA:
		rgbRows(m.Pix, m.Stride, m.PixOffset(r.Min.X, r.Min.Y), r.Dy(), w, out)
	case *image.RGBA:
		rgbRows(m.Pix, m.Stride, m.PixOffset(r.Min.X, r.Min.Y), r.Dy(), w, out)
	default:
		i := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				out[i] = lumaOf(c.R, c.G, c.B)
				i++
			}
		}
	}
}

// grayRows copies rows of one byte a pixel (a Y plane, gray pixels) from
// pix, the first at off, stride apart, into out.
func grayRows(pix []byte, stride, off, rows, cols int, out []float32) {
	for y := range rows {
		p := pix[off+y*stride:][:cols]
		o := out[y*cols:][:cols]
		for x, v := range p {
			o[x] = float32(v)
		}
	}
}

// rgbRows is grayRows for four bytes a pixel (RGBA, NRGBA), converted as
// the reference converts RGB.
func rgbRows(pix []byte, stride, off, rows, cols int, out []float32) {
	for y := range rows {
		p := pix[off+y*stride:][:4*cols]
		o := out[y*cols:][:cols]
		for x := range o {
			o[x] = lumaOf(p[4*x], p[4*x+1], p[4*x+2])
		}
	}
}

// lumaOf rounds each product and sum to float32, in the reference's order
// (the conversions also keep the compiler from fusing them).
func lumaOf(r, g, b uint8) float32 {
	return float32(float32(lumaR*float32(r))+float32(lumaG*float32(g))) + float32(lumaB*float32(b))
}

// jarosz applies the reference's two passes of a box filter along rows then
// along columns: an approximation of a tent filter that blurs each pixel over
// the cell it will be decimated into.
func (h *Hasher) jarosz(rows, cols, wRows, wCols int) {
	if cap(h.sums) < cols {
		h.sums = make([]float32, cols)
	}
	for range 2 {
		for i := range rows {
			box1D(h.buf1[i*cols:][:cols], h.buf2[i*cols:][:cols], wRows)
		}
		h.boxCols(h.buf2, h.buf1, rows, cols, wCols)
	}
}

// box1D is the reference's box1DFloat: a centred running mean whose window
// is cut short at both ends.
func box1D(in, out []float32, full int) {
	n := len(in)
	half := (full + 2) / 2
	p1, p2, p3, p4 := half-1, full-half+1, n-full, half-1
	var sum float32
	cur, li, ri, oi := 0, 0, 0, 0
	for range p1 {
		sum += in[ri]
		cur++
		ri++
	}
	for range p2 {
		sum += in[ri]
		cur++
		out[oi] = sum / float32(cur)
		ri++
		oi++
	}
	for range p3 {
		sum += in[ri]
		sum -= in[li]
		out[oi] = sum / float32(cur)
		li++
		ri++
		oi++
	}
	for range p4 {
		sum -= in[li]
		cur--
		out[oi] = sum / float32(cur)
		li++
		oi++
	}
}

// boxCols is box1D down every column at once, row by row, so that memory is
// read in order; each column sees exactly the arithmetic of box1D.
func (h *Hasher) boxCols(in, out []float32, rows, cols, full int) {
	sums := h.sums[:cols]
	clear(sums)
	half := (full + 2) / 2
	p1, p2, p3, p4 := half-1, full-half+1, rows-full, half-1
	row := func(i int) []float32 { return in[i*cols:][:cols] }
	cur, li, ri, oi := 0, 0, 0, 0
	emit := func() {
		o := out[oi*cols:][:cols]
		c := float32(cur)
		for j, s := range sums {
			o[j] = s / c
		}
		oi++
	}
	for range p1 {
		for j, v := range row(ri) {
			sums[j] += v
		}
		cur++
		ri++
	}
	for range p2 {
		for j, v := range row(ri) {
			sums[j] += v
		}
		cur++
		emit()
		ri++
	}
	for range p3 {
		add, sub := row(ri), row(li)
		for j := range sums {
			sums[j] += add[j]
			sums[j] -= sub[j]
		}
		emit()
		li++
		ri++
	}
	for range p4 {
		for j, v := range row(li) {
			sums[j] -= v
		}
		cur--
		emit()
		li++
	}
}

// qualityOf is the reference's heuristic: the sum of significant gradients
// of the 64x64 image, scaled so that 100 is plenty of detail.
func qualityOf(a *[64][64]float32) int {
	sum := 0
	grad := func(u, v float32) {
		d := int(float32(float32(u-v)*100) / 255)
		if d < 0 {
			d = -d
		}
		sum += d
	}
	for i := range 63 {
		for j := range 64 {
			grad(a[i][j], a[i+1][j])
		}
	}
	for i := range 64 {
		for j := range 63 {
			grad(a[i][j], a[i][j+1])
		}
	}
	return min(sum/90, 100)
}

// dct64To16 computes B = D A Dᵀ, keeping only the 16x16 low frequencies past
// the DC term, summing in the reference's order.
func (h *Hasher) dct64To16() {
	a, t, b := &h.b64, &h.t16x64, &h.b16
	for i := range 16 {
		d := &dct[i]
		for j := range 64 {
			var s float32
			for k := range 64 {
				s += float32(d[k] * a[k][j])
			}
			t[i][j] = s
		}
	}
	for i := range 16 {
		for j := range 16 {
			d := &dct[j]
			var s float32
			for k := range 64 {
				s += float32(t[i][k] * d[k])
			}
			b[i][j] = s
		}
	}
}

// bitsOf sets one bit per coefficient above the median: the reference's
// Torben median of 256 values is the 128th smallest.
func bitsOf(b *[16][16]float32) Hash {
	var sorted [256]float32
	for i := range 16 {
		copy(sorted[i*16:], b[i][:])
	}
	slices.Sort(sorted[:])
	median := sorted[127]
	var h Hash
	for i := range 16 {
		for j := range 16 {
			if b[i][j] > median {
				h.set(i*16 + j)
			}
		}
	}
	return h
}
