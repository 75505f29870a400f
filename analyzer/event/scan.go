package event

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds the nesting of a line. Events are two levels deep; the bound
// only keeps the recursion of the scanner short.
const maxDepth = 64

// syntaxFault says why a line is not acceptable JSON text.
type syntaxFault struct {
	off    int    // byte offset of the fault in the line
	msg    string // plain words, without the offset
	path   string // field path, for a text encoding fault inside a string value
	encode bool   // invalid UTF-8 or an escaped lone surrogate, as opposed to grammar
}

func (f *syntaxFault) reason() string {
	if f.encode {
		return f.msg + " at byte " + strconv.Itoa(f.off)
	}
	return "invalid JSON: " + f.msg + " at byte " + strconv.Itoa(f.off)
}

// span locates a value in the line. For a string it is the content between
// the quotes, escapes not yet undone.
type span struct {
	start, end int
	kind       byte // '"', '{', '[', 't', 'f', 'n', or '0' for a number
	esc        bool // a string with backslash escapes
}

// scan modes: what the object at depth 1 records.
const (
	recordNone = iota
	recordTop  // top-level fields into scanner.top
	recordSub  // the keys of subNames into scanner.sub (geo, host)
)

// scanner checks a line strictly against RFC 8259 and, in the same pass,
// records where the values of the known top-level fields are, so that the
// Decoder reads them without building a tree. Beyond the grammar it checks
// that every string is valid UTF-8 with no escaped lone surrogate, so that what
// it reads is exactly what encoding/json would read (FuzzDecode checks that).
type scanner struct {
	b     []byte
	i     int
	depth int
	mode  int
	keys  [2][]byte // current key at depth 1 and 2, nil inside an array or when escaped
	esc   bool      // the last string scanned had escapes
	fault syntaxFault
	bad   bool

	top  [numFields]span
	seen uint64 // bit per field present, null included
	dup  uint64 // bit per field present more than once
	null uint64 // bit per field whose (last) value is null

	subNames *[numSub]string
	sub      [numSub]span
	subSeen  uint8
	subDup   uint8
	subNull  uint8

	buf []byte // unescaped string, valid until the next unescape
}

// scanTop checks b and records its top-level fields. On false, s.fault says
// why; notObject is set when b is valid JSON but not an object.
func (s *scanner) scanTop(b []byte) (ok, notObject bool) {
	s.b, s.i, s.depth, s.bad = b, 0, 0, false
	s.keys = [2][]byte{}
	s.seen, s.dup, s.null = 0, 0, 0
	s.skipWS()
	if s.i == len(b) {
		return s.fail("empty line"), false
	}
	isObject := b[s.i] == '{'
	s.mode = recordTop
	if !s.value() {
		return false, false
	}
	s.skipWS()
	if s.i != len(b) {
		return s.fail("unexpected " + quoteByte(b[s.i]) + " after the value"), false
	}
	return isObject, !isObject
}

// scanSub records the values of the keys in names of the object at sp,
// which scanTop has checked.
func (s *scanner) scanSub(sp span, names *[numSub]string) {
	s.i, s.depth, s.bad = sp.start, 0, false
	s.subSeen, s.subDup, s.subNull = 0, 0, 0
	s.mode, s.subNames = recordSub, names
	s.value()
}

// stringArray returns the strings of the array at sp, which scanTop has
// checked: nil when empty, or false when an element is not a string.
func (s *scanner) stringArray(sp span) ([]string, bool) {
	s.i, s.depth, s.mode = sp.start+1, 1, recordNone
	var out []string
	for {
		s.skipWS()
		if s.b[s.i] == ']' {
			return out, true
		}
		start := s.i
		s.value()
		if s.b[start] != '"' {
			return nil, false
		}
		out = append(out, string(s.text(span{start: start + 1, end: s.i - 1, esc: s.esc})))
		s.skipWS()
		if s.b[s.i] == ',' {
			s.i++
		}
	}
}

// text returns the unescaped content of a string span, valid until the next
// call.
func (s *scanner) text(sp span) []byte {
	raw := s.b[sp.start:sp.end]
	if !sp.esc {
		return raw
	}
	s.buf = appendUnescaped(s.buf[:0], raw)
	return s.buf
}

func (s *scanner) fail(msg string) bool {
	if !s.bad {
		s.bad = true
		s.fault = syntaxFault{off: s.i, msg: msg}
	}
	return false
}

func (s *scanner) failEncoding(at int, msg string, inKey bool) bool {
	s.bad = true
	s.fault = syntaxFault{off: at, msg: msg, encode: true}
	if !inKey {
		s.fault.path = s.path()
	}
	return false
}

// path names the string value being scanned: "text", "geo.lat", "tags".
func (s *scanner) path() string {
	if s.depth < 1 || s.keys[0] == nil {
		return ""
	}
	if s.depth >= 2 && s.keys[1] != nil {
		return string(s.keys[0]) + "." + string(s.keys[1])
	}
	return string(s.keys[0])
}

func (s *scanner) skipWS() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return // compact JSON: no whitespace between tokens
	}
	s.skipWSSlow()
}

func (s *scanner) skipWSSlow() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) value() bool {
	if s.i >= len(s.b) {
		return s.fail("unexpected end")
	}
	switch ch := s.b[s.i]; {
	case ch == '"':
		return s.str(false)
	case ch == '-' || ch >= '0' && ch <= '9':
		return s.number()
	case ch == '{':
		return s.object()
	case ch == '[':
		return s.array()
	case ch == 't':
		return s.literal("true")
	case ch == 'f':
		return s.literal("false")
	case ch == 'n':
		return s.literal("null")
	default:
		return s.fail("unexpected " + quoteByte(ch))
	}
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("unexpected " + quoteByte(s.b[s.i]))
	}
	s.i += len(lit)
	return true
}

func (s *scanner) enter() bool {
	s.depth++
	if s.depth > maxDepth {
		return s.fail("nested deeper than " + strconv.Itoa(maxDepth) + " levels")
	}
	if s.depth <= len(s.keys) {
		s.keys[s.depth-1] = nil
	}
	return true
}

func (s *scanner) leave() {
	if s.depth <= len(s.keys) {
		s.keys[s.depth-1] = nil
	}
	s.depth--
}

func (s *scanner) object() bool {
	s.i++ // '{'
	if !s.enter() {
		return false
	}
	s.skipWS()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.leave()
		return true
	}
	for {
		s.skipWS()
		if s.i >= len(s.b) {
			return s.fail("unexpected end in object")
		}
		if s.b[s.i] != '"' {
			return s.fail("expected a string key, found " + quoteByte(s.b[s.i]))
		}
		kstart := s.i + 1
		if !s.str(true) {
			return false
		}
		key, kesc := s.b[kstart:s.i-1], s.esc
		if s.depth <= len(s.keys) {
			if kesc {
				s.keys[s.depth-1] = nil // not worth unescaping for an error path
			} else {
				s.keys[s.depth-1] = key
			}
		}
		s.skipWS()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail("expected ':' after object key")
		}
		s.i++
		s.skipWS()
		vstart := s.i
		if !s.value() {
			return false
		}
		if s.depth == 1 && s.mode != recordNone {
			s.record(key, kesc, vstart)
		}
		s.skipWS()
		if s.i >= len(s.b) {
			return s.fail("unexpected end in object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			s.leave()
			return true
		default:
			return s.fail("expected ',' or '}' in object, found " + quoteByte(s.b[s.i]))
		}
	}
}

// record keeps the span of the value that starts at vstart and ends at s.i,
// when key names a field of interest.
func (s *scanner) record(key []byte, kesc bool, vstart int) {
	if kesc {
		s.buf = appendUnescaped(s.buf[:0], key)
		key = s.buf
	}
	sp := span{start: vstart, end: s.i, kind: s.b[vstart]}
	switch sp.kind {
	case '"':
		sp.start, sp.end, sp.esc = vstart+1, s.i-1, s.esc
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		sp.kind = '0'
	}
	if s.mode == recordTop {
		f := lookupField(key)
		if f == fNone {
			return
		}
		bit := uint64(1) << f
		if s.seen&bit != 0 {
			s.dup |= bit
		}
		s.seen |= bit
		s.null &^= bit
		if sp.kind == 'n' {
			s.null |= bit
		}
		s.top[f] = sp
		return
	}
	for i, name := range s.subNames {
		if string(key) != name {
			continue
		}
		bit := uint8(1) << i
		if s.subSeen&bit != 0 {
			s.subDup |= bit
		}
		s.subSeen |= bit
		s.subNull &^= bit
		if sp.kind == 'n' {
			s.subNull |= bit
		}
		s.sub[i] = sp
		return
	}
}

func (s *scanner) array() bool {
	s.i++ // '['
	if !s.enter() {
		return false
	}
	s.skipWS()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.leave()
		return true
	}
	for {
		s.skipWS()
		if !s.value() {
			return false
		}
		s.skipWS()
		if s.i >= len(s.b) {
			return s.fail("unexpected end in array")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			s.leave()
			return true
		default:
			return s.fail("expected ',' or ']' in array, found " + quoteByte(s.b[s.i]))
		}
	}
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	b := s.b
	if b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(b) && b[s.i] == '0':
		s.i++
	case s.i < len(b) && b[s.i] >= '1' && b[s.i] <= '9':
		s.skipDigits()
	default:
		return s.fail("malformed number")
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if s.skipDigits() == 0 {
			return s.fail("malformed number")
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if s.skipDigits() == 0 {
			return s.fail("malformed number")
		}
	}
	return true
}

func (s *scanner) skipDigits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 flags the bytes of w that a string scan must look at: quote,
// backslash, control character, non-ASCII. The lowest flag is exact (borrows
// only run upwards), so TrailingZeros finds the first such byte.
func special8(w uint64) uint64 {
	quote := w ^ (ones * '"')
	bslash := w ^ (ones * '\\')
	m := (quote - ones) & ^quote
	m |= (bslash - ones) & ^bslash
	m |= (w - ones*0x20) & ^w // a byte < 0x20
	m |= w                    // a byte >= 0x80
	return m & highs
}

// plainByte is true for the bytes a string may hold as they are.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str scans a string starting at its opening quote and leaves s.i after the
// closing one, s.esc telling whether it had escapes.
func (s *scanner) str(inKey bool) bool {
	b := s.b
	i := s.i + 1
	s.esc = false
	for {
		for i+8 <= len(b) {
			m := special8(binary.LittleEndian.Uint64(b[i:]))
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			return s.fail("unterminated string")
		}
		switch ch := b[i]; {
		case ch == '"':
			s.i = i + 1
			return true
		case ch == '\\':
			s.esc = true
			n, ok := s.escape(i, inKey)
			if !ok {
				return false
			}
			i += n
		case ch < 0x20:
			s.i = i
			return s.fail("control character " + quoteByte(ch) + " in string")
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return s.failEncoding(i, "invalid UTF-8", inKey)
			}
			i += size
		}
	}
}

// escape checks the escape sequence at b[i] == '\\' and returns its length.
func (s *scanner) escape(i int, inKey bool) (int, bool) {
	b := s.b
	if i+1 >= len(b) {
		s.i = i + 1
		return 0, s.fail("unterminated string")
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
	default:
		s.i = i
		return 0, s.fail("invalid escape " + quoteByte(b[i+1]) + " in string")
	}
	r, ok := hex4(b, i+2)
	if !ok {
		s.i = i
		return 0, s.fail(`invalid \u escape in string`)
	}
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		return 0, s.failEncoding(i, "lone UTF-16 surrogate escape", inKey)
	case r >= 0xD800 && r <= 0xDBFF:
		if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
			return 0, s.failEncoding(i, "lone UTF-16 surrogate escape", inKey)
		}
		r2, ok := hex4(b, i+8)
		if !ok {
			s.i = i + 6
			return 0, s.fail(`invalid \u escape in string`)
		}
		if r2 < 0xDC00 || r2 > 0xDFFF {
			return 0, s.failEncoding(i, "lone UTF-16 surrogate escape", inKey)
		}
		return 12, true
	}
	return 6, true
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, ch := range b[i : i+4] {
		switch {
		case ch >= '0' && ch <= '9':
			r = r<<4 | rune(ch-'0')
		case ch >= 'a' && ch <= 'f':
			r = r<<4 | rune(ch-'a'+10)
		case ch >= 'A' && ch <= 'F':
			r = r<<4 | rune(ch-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// appendUnescaped appends the text of string content raw, whose escapes the
// scanner has checked, to dst.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			if r >= 0xD800 && r <= 0xDBFF {
				r2, _ := hex4(raw, i+8)
				r = (r-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// quoteByte renders one byte for an error message: '"', 'x' or 0xff.
func quoteByte(ch byte) string {
	if ch >= 0x20 && ch < 0x7f {
		return strconv.QuoteRune(rune(ch))
	}
	return "0x" + strconv.FormatUint(uint64(ch), 16)
}
