package event

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// FieldError rejects one event. Field is the JSON field path ("coins",
// "geo.lat", "host.created_at"), or "" when the line as a whole is at fault
// (not JSON, not an object, too long). Reason says why in plain words that a
// sender can act on.
type FieldError struct {
	Field  string
	Reason string
}

// Error reads "field coins: must be an integer > 0", or the reason alone for a
// whole-line fault ("invalid JSON: ...").
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return "field " + e.Field + ": " + e.Reason
}

// ErrUnknownType is wrapped by the error Decode returns for an event whose type
// this version does not know. Such events are counted and skipped, never
// rejected: the contract lets senders add types (EVENTS.md "Encoding").
var ErrUnknownType = errors.New("unknown event type")

// Reasons, shared so that every field says the same thing the same way.
const (
	reasonRequired  = "required"
	reasonDuplicate = "appears more than once"
	reasonString    = "must be a string"
	reasonEmpty     = "must not be empty"
	reasonIDLen     = "must be at most 128 bytes"  // MaxIDBytes
	reasonTextLen   = "must be at most 8192 bytes" // MaxTextBytes
	reasonTime      = "must be an RFC 3339 time with an offset, like 2025-06-02T13:05:00Z"
	reasonBool      = "must be true or false"
	reasonObject    = "must be an object"
	reasonStrings   = "must be an array of strings"
	reasonLineLen   = "line longer than 65536 bytes" // MaxEventBytes
	reasonNotObject = "an event must be a JSON object"
	reasonBirthYear = "must be an integer between 1900 and 2100" // minBirthYear, maxBirthYear
)

// field names a top-level field that some type uses. The zero value is a field
// this version ignores.
type field uint8

const (
	fNone field = iota
	fID
	fType
	fAt
	fNode
	fStreamID
	fHostID
	fTitle
	fTags
	fCategory
	fDeviceID
	fIP
	fGeo
	fTZ
	fAgencyID
	fHost
	fViewers
	fPrivate
	fReason
	fSenderID
	fCoins
	fGift
	fSenderCountry
	fText
	fAccountID
	fKind
	fToID
	fLinks
	fFromID
	fRel
	fToAccount
	fAmount
	fCurrency
	fMethod
	fSource
	fLabel
	fScore
	fPhase
	fNetwork
	fFacts
	fSenderTZ
	numFields
)

var fieldNames = [numFields]string{
	fID: "id", fType: "type", fAt: "at", fNode: "node",
	fStreamID: "stream_id", fHostID: "host_id", fTitle: "title", fTags: "tags",
	fCategory: "category", fDeviceID: "device_id", fIP: "ip", fGeo: "geo", fTZ: "tz",
	fAgencyID: "agency_id", fHost: "host", fViewers: "viewers", fPrivate: "private",
	fReason: "reason", fSenderID: "sender_id", fCoins: "coins", fGift: "gift",
	fSenderCountry: "sender_country", fText: "text", fAccountID: "account_id",
	fKind: "kind", fToID: "to_id", fLinks: "links", fFromID: "from_id", fRel: "rel",
	fToAccount: "to_account", fAmount: "amount", fCurrency: "currency",
	fMethod: "method", fSource: "source", fLabel: "label", fScore: "score",
	fPhase: "phase", fNetwork: "network", fFacts: "facts", fSenderTZ: "sender_tz",
}

// lookupField maps a key to its field with one probe in a small perfect hash
// table (TestLookupField checks that no two names collide): the key lookup
// runs for every key of every line.
func lookupField(key []byte) field {
	if len(key) < 2 {
		return fNone
	}
	f := fieldTable[fieldHash(key)]
	if f == fNone || string(key) != fieldNames[f] {
		return fNone
	}
	return f
}

func fieldHash(k []byte) uint8 {
	return uint8(len(k)*3+int(k[0])*11+int(k[1])+int(k[len(k)-1])) & 127
}

var fieldTable = func() (t [128]field) {
	for f := fID; f < numFields; f++ {
		t[fieldHash([]byte(fieldNames[f]))] = f
	}
	return t
}()

// Sub-fields of geo and host.
const (
	subLat = iota
	subLon
	subAccuracy
	numSub
	subCreatedAt = subLat
	subBirthYear = subLon
	subAgeVerif  = subAccuracy
)

// Plausible declared birth years: anything outside is a typo or a test value.
const (
	minBirthYear = 1900
	maxBirthYear = 2100
)

// Decoder decodes one NDJSON line into an Event. It keeps scratch space from
// line to line, so keep one Decoder per goroutine; it is not safe for
// concurrent use. The zero value is ready.
//
// It builds no JSON tree: one strict pass over the line (scan.go) checks it and
// records where the values of the fields it knows are, then the fields of the
// event's type are read from there. On the sample of BenchmarkDecode that is
// more than twice as fast as a fastjson tree followed by the checks fastjson
// leaves out (it takes NaN, bad escapes and invalid UTF-8), and faster than
// go-json, sonic or encoding/json decoding into an Event with none of these
// checks (BenchmarkRef*).
//
// Decoding follows EVENTS.md strictly where a lax reading would let two
// receivers disagree about the same bytes:
//   - the line must be RFC 8259 JSON (no NaN, no bad escapes), UTF-8 with no
//     escaped lone surrogates, one object, at most MaxEventBytes long;
//   - a field that appears twice is rejected rather than resolved first-wins or
//     last-wins;
//   - JSON null counts as absent;
//   - an integer field takes any JSON number whose value is a whole number, so
//     3, 3.0 and 3e0 are all 3 (JSON has one number type and some encoders
//     write whole floats with a fraction), but 1.5 is rejected;
//   - fields that the event's type does not use are ignored like unknown ones;
//   - any kind, rel, label or other enumeration-like string is taken as is: the
//     analyzer decides what it understands.
type Decoder struct {
	s      scanner
	intern interner
	times  timeParser
}

// Decode decodes one line, with or without its "\n" or "\r\n", into *ev, which
// it resets first. It returns nil, a *FieldError naming the first fault (in the
// order: line length, JSON syntax and encoding, id, type, at, then the type's
// fields in contract order), or, for a type it does not know, an error wrapping
// ErrUnknownType with ev.TypeName, ev.ID, ev.At and ev.Node filled when valid.
// On a *FieldError, ev.ID is filled when the id itself was valid; the rest of
// *ev is then unspecified.
//
// Strings in *ev never alias line, and slices and pointers in it are fresh, so
// a shallow copy of *ev is a full copy.
func (d *Decoder) Decode(line []byte, ev *Event) error {
	*ev = Event{}
	line = trimEOL(line)
	if len(line) > MaxEventBytes {
		return &FieldError{Reason: reasonLineLen}
	}
	ok, notObject := d.s.scanTop(line)
	if !ok {
		if notObject {
			return &FieldError{Reason: reasonNotObject}
		}
		f := &d.s.fault
		return &FieldError{Field: f.path, Reason: f.reason()}
	}
	unknown, ferr := d.common(ev)
	if ferr != nil {
		return ferr
	}
	if unknown {
		return fmt.Errorf("%w %.64q", ErrUnknownType, ev.TypeName)
	}
	if ferr := d.fields(ev); ferr != nil {
		return ferr
	}
	return nil
}

// fields decodes the fields of ev.Type in the order of its contract table.
func (d *Decoder) fields(ev *Event) *FieldError {
	switch ev.Type {
	case TypeStreamStart:
		return d.streamStart(ev)
	case TypeStreamHeartbeat:
		return d.heartbeat(ev)
	case TypeStreamEnd:
		return firstErr(
			d.idField(fStreamID, true, &ev.StreamID),
			d.str(fReason, &ev.Reason),
		)
	case TypeGift:
		return firstErr(
			d.idField(fStreamID, true, &ev.StreamID),
			d.idField(fHostID, true, &ev.HostID),
			d.idField(fSenderID, true, &ev.SenderID),
			d.coins(&ev.Coins),
			d.str(fGift, &ev.Gift),
			d.str(fSenderCountry, &ev.SenderCountry),
			d.str(fSenderTZ, &ev.SenderTZ),
		)
	case TypeChat:
		return firstErr(
			d.idField(fStreamID, true, &ev.StreamID),
			d.idField(fSenderID, true, &ev.SenderID),
			d.text(&ev.Text),
		)
	case TypePost:
		return firstErr(
			d.idField(fAccountID, true, &ev.AccountID),
			d.reqStr(fKind, &ev.Kind),
			d.text(&ev.Text),
			d.idField(fToID, false, &ev.ToID),
			d.strings(fLinks, &ev.Links),
		)
	case TypeLink:
		return firstErr(
			d.idField(fFromID, true, &ev.FromID),
			d.idField(fToID, true, &ev.ToID),
			d.reqStr(fRel, &ev.Rel),
		)
	case TypePayout:
		return d.payout(ev)
	case TypeSignal:
		return d.signal(ev)
	case TypeStreamWire:
		return d.streamWire(ev)
	}
	return nil
}

// firstErr returns the first non-nil error. Its arguments have all run, in
// order: after a fault the later fields are decoded too, which only costs on
// the rare error path and lets the lists read like the contract tables.
func firstErr(errs ...*FieldError) *FieldError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

func fieldErr(f field, reason string) *FieldError {
	return &FieldError{Field: fieldNames[f], Reason: reason}
}

// get returns the span of f, ok false when absent or null, or an error when
// f is present twice or absent but required.
func (d *Decoder) get(f field, required bool) (span, bool, *FieldError) {
	bit := uint64(1) << f
	switch {
	case d.s.dup&bit != 0:
		return span{}, false, fieldErr(f, reasonDuplicate)
	case d.s.seen&bit == 0 || d.s.null&bit != 0:
		if required {
			return span{}, false, fieldErr(f, reasonRequired)
		}
		return span{}, false, nil
	}
	return d.s.top[f], true, nil
}

// stringOf returns the text of a string span, valid until the next call.
func (d *Decoder) stringOf(sp span) ([]byte, bool) {
	if sp.kind != '"' {
		return nil, false
	}
	return d.s.text(sp), true
}

// common decodes id, type, at and node. For a type it does not know, it fills
// what is valid and reports unknown.
func (d *Decoder) common(ev *Event) (unknown bool, err *FieldError) {
	if err := d.idField(fID, true, &ev.ID); err != nil {
		return false, err
	}
	sp, _, err := d.get(fType, true)
	if err != nil {
		return false, err
	}
	name, ok := d.stringOf(sp)
	if !ok {
		return false, fieldErr(fType, reasonString)
	}
	if len(name) == 0 {
		return false, fieldErr(fType, reasonEmpty)
	}
	ev.Type = typeOf(name)
	if ev.Type == TypeUnknown {
		ev.TypeName = string(name)
		var at time.Time
		if d.time(fAt, &at) == nil {
			ev.At = at
		}
		var node string
		if d.str(fNode, &node) == nil {
			ev.Node = node
		}
		return true, nil
	}
	ev.TypeName = typeNames[ev.Type]
	return false, firstErr(
		d.time(fAt, &ev.At),
		d.str(fNode, &ev.Node),
	)
}

func typeOf(name []byte) Type {
	switch string(name) {
	case "stream.start":
		return TypeStreamStart
	case "stream.heartbeat":
		return TypeStreamHeartbeat
	case "stream.end":
		return TypeStreamEnd
	case "gift":
		return TypeGift
	case "chat":
		return TypeChat
	case "post":
		return TypePost
	case "link":
		return TypeLink
	case "payout":
		return TypePayout
	case "signal":
		return TypeSignal
	case "stream.wire":
		return TypeStreamWire
	}
	return TypeUnknown
}

// idField decodes an id-like string: non-empty, at most MaxIDBytes.
func (d *Decoder) idField(f field, required bool, dst *string) *FieldError {
	sp, ok, err := d.get(f, required)
	if !ok {
		return err
	}
	b, ok := d.stringOf(sp)
	switch {
	case !ok:
		return fieldErr(f, reasonString)
	case len(b) == 0:
		return fieldErr(f, reasonEmpty)
	case len(b) > MaxIDBytes:
		return fieldErr(f, reasonIDLen)
	}
	if f == fID {
		*dst = string(b) // unique per event: nothing to share
	} else {
		*dst = d.intern.str(b)
	}
	return nil
}

// str decodes an optional free string; empty is allowed.
func (d *Decoder) str(f field, dst *string) *FieldError {
	sp, ok, err := d.get(f, false)
	if !ok {
		return err
	}
	b, ok := d.stringOf(sp)
	if !ok {
		return fieldErr(f, reasonString)
	}
	*dst = d.intern.str(b)
	return nil
}

// reqStr decodes a required non-empty string such as kind or rel.
func (d *Decoder) reqStr(f field, dst *string) *FieldError {
	sp, ok, err := d.get(f, true)
	if !ok {
		return err
	}
	b, ok := d.stringOf(sp)
	switch {
	case !ok:
		return fieldErr(f, reasonString)
	case len(b) == 0:
		return fieldErr(f, reasonEmpty)
	}
	*dst = d.intern.str(b)
	return nil
}

// text decodes the required text of chat and post, at most MaxTextBytes.
func (d *Decoder) text(dst *string) *FieldError {
	sp, ok, err := d.get(fText, true)
	if !ok {
		return err
	}
	b, ok := d.stringOf(sp)
	switch {
	case !ok:
		return fieldErr(fText, reasonString)
	case len(b) > MaxTextBytes:
		return fieldErr(fText, reasonTextLen)
	}
	*dst = string(b)
	return nil
}

// strings decodes an optional array of strings. An empty array is stored as
// nil, as encoding an Event omits it.
func (d *Decoder) strings(f field, dst *[]string) *FieldError {
	sp, ok, err := d.get(f, false)
	if !ok {
		return err
	}
	if sp.kind != '[' {
		return fieldErr(f, reasonStrings)
	}
	a, ok := d.s.stringArray(sp)
	if !ok {
		return fieldErr(f, reasonStrings)
	}
	*dst = a
	return nil
}

// time decodes a required time field.
func (d *Decoder) time(f field, dst *time.Time) *FieldError {
	sp, ok, err := d.get(f, true)
	if !ok {
		return err
	}
	t, ok := d.parseTime(sp)
	if !ok {
		return fieldErr(f, reasonTime)
	}
	*dst = t
	return nil
}

func (d *Decoder) parseTime(sp span) (time.Time, bool) {
	b, ok := d.stringOf(sp)
	if !ok {
		return time.Time{}, false
	}
	return d.times.parse(b)
}

// integer decodes a number span holding an integer in [lo, hi]; reason is the
// error to give otherwise.
func (d *Decoder) integer(name string, sp span, lo, hi int64, reason string) (int64, *FieldError) {
	if sp.kind != '0' {
		return 0, &FieldError{Field: name, Reason: reason}
	}
	n, ok := parseInteger(d.s.b[sp.start:sp.end])
	if !ok || n < lo || n > hi {
		return 0, &FieldError{Field: name, Reason: reason}
	}
	return n, nil
}

// float decodes a number span holding a finite number in [lo, hi].
func (d *Decoder) float(name string, sp span, lo, hi float64, reason string) (float64, *FieldError) {
	if sp.kind != '0' {
		return 0, &FieldError{Field: name, Reason: reason}
	}
	x, err := strconv.ParseFloat(string(d.s.b[sp.start:sp.end]), 64)
	if err != nil || !(x >= lo && x <= hi) {
		return 0, &FieldError{Field: name, Reason: reason}
	}
	return x, nil
}

func (d *Decoder) boolean(name string, sp span) (bool, *FieldError) {
	switch sp.kind {
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return false, &FieldError{Field: name, Reason: reasonBool}
}

func (d *Decoder) coins(dst *int64) *FieldError {
	sp, ok, err := d.get(fCoins, true)
	if !ok {
		return err
	}
	*dst, err = d.integer("coins", sp, 1, math.MaxInt64, "must be an integer > 0")
	return err
}

func (d *Decoder) heartbeat(ev *Event) *FieldError {
	if err := d.idField(fStreamID, true, &ev.StreamID); err != nil {
		return err
	}
	sp, ok, err := d.get(fViewers, false)
	if err != nil {
		return err
	}
	if ok {
		n, err := d.integer("viewers", sp, 0, math.MaxInt, "must be an integer >= 0")
		if err != nil {
			return err
		}
		ev.Viewers = int(n)
	}
	if sp, ok, err = d.get(fPrivate, false); err != nil {
		return err
	}
	if ok {
		if ev.Private, err = d.boolean("private", sp); err != nil {
			return err
		}
	}
	return nil
}

func (d *Decoder) streamStart(ev *Event) *FieldError {
	if err := firstErr(
		d.idField(fStreamID, true, &ev.StreamID),
		d.idField(fHostID, true, &ev.HostID),
		d.str(fTitle, &ev.Title),
		d.strings(fTags, &ev.Tags),
		d.str(fCategory, &ev.Category),
		d.idField(fDeviceID, false, &ev.DeviceID),
		d.str(fIP, &ev.IP),
	); err != nil {
		return err
	}
	if err := d.geo(ev); err != nil {
		return err
	}
	if err := firstErr(
		d.str(fTZ, &ev.TZ),
		d.idField(fAgencyID, false, &ev.AgencyID),
	); err != nil {
		return err
	}
	return d.host(ev)
}

// getSub is get for the fields of geo or host, after scanSub.
func (d *Decoder) getSub(i int, path string, required bool) (span, bool, *FieldError) {
	bit := uint8(1) << i
	switch {
	case d.s.subDup&bit != 0:
		return span{}, false, &FieldError{Field: path, Reason: reasonDuplicate}
	case d.s.subSeen&bit == 0 || d.s.subNull&bit != 0:
		if required {
			return span{}, false, &FieldError{Field: path, Reason: reasonRequired}
		}
		return span{}, false, nil
	}
	return d.s.sub[i], true, nil
}

var geoNames = [numSub]string{subLat: "lat", subLon: "lon", subAccuracy: "accuracy_m"}

func (d *Decoder) geo(ev *Event) *FieldError {
	sp, ok, err := d.get(fGeo, false)
	if !ok {
		return err
	}
	if sp.kind != '{' {
		return fieldErr(fGeo, reasonObject)
	}
	d.s.scanSub(sp, &geoNames)
	g := new(Geo)
	if sp, _, err = d.getSub(subLat, "geo.lat", true); err != nil {
		return err
	}
	if g.Lat, err = d.float("geo.lat", sp, -90, 90, "must be a number between -90 and 90"); err != nil {
		return err
	}
	if sp, _, err = d.getSub(subLon, "geo.lon", true); err != nil {
		return err
	}
	if g.Lon, err = d.float("geo.lon", sp, -180, 180, "must be a number between -180 and 180"); err != nil {
		return err
	}
	if sp, ok, err = d.getSub(subAccuracy, "geo.accuracy_m", false); err != nil {
		return err
	}
	if ok {
		if g.AccuracyM, err = d.float("geo.accuracy_m", sp, 0, math.MaxFloat64, "must be a number >= 0"); err != nil {
			return err
		}
	}
	ev.Geo = g
	return nil
}

var hostNames = [numSub]string{subCreatedAt: "created_at", subBirthYear: "birth_year", subAgeVerif: "age_verified"}

func (d *Decoder) host(ev *Event) *FieldError {
	sp, ok, err := d.get(fHost, false)
	if !ok {
		return err
	}
	if sp.kind != '{' {
		return fieldErr(fHost, reasonObject)
	}
	d.s.scanSub(sp, &hostNames)
	h := new(HostFacts)
	if sp, ok, err = d.getSub(subCreatedAt, "host.created_at", false); err != nil {
		return err
	}
	if ok {
		if h.CreatedAt, ok = d.parseTime(sp); !ok {
			return &FieldError{Field: "host.created_at", Reason: reasonTime}
		}
	}
	if sp, ok, err = d.getSub(subBirthYear, "host.birth_year", false); err != nil {
		return err
	}
	if ok {
		n, err := d.integer("host.birth_year", sp, minBirthYear, maxBirthYear, reasonBirthYear)
		if err != nil {
			return err
		}
		h.BirthYear = int(n)
	}
	if sp, ok, err = d.getSub(subAgeVerif, "host.age_verified", false); err != nil {
		return err
	}
	if ok {
		b, err := d.boolean("host.age_verified", sp)
		if err != nil {
			return err
		}
		h.AgeVerified = &b
	}
	ev.Host = h
	return nil
}

func (d *Decoder) payout(ev *Event) *FieldError {
	if err := firstErr(
		d.idField(fAccountID, true, &ev.AccountID),
		d.idField(fToAccount, true, &ev.ToAccount),
		d.coins(&ev.Coins),
	); err != nil {
		return err
	}
	sp, ok, err := d.get(fAmount, false)
	if err != nil {
		return err
	}
	if ok {
		if ev.Amount, err = d.float("amount", sp, -math.MaxFloat64, math.MaxFloat64, "must be a finite number"); err != nil {
			return err
		}
	}
	return firstErr(
		d.str(fCurrency, &ev.Currency),
		d.str(fMethod, &ev.Method),
	)
}

func (d *Decoder) signal(ev *Event) *FieldError {
	if err := firstErr(
		d.idField(fStreamID, false, &ev.StreamID),
		d.idField(fHostID, false, &ev.HostID),
		d.idField(fAccountID, false, &ev.AccountID),
	); err != nil {
		return err
	}
	if ev.StreamID == "" && ev.HostID == "" && ev.AccountID == "" {
		return fieldErr(fStreamID, "required: one of stream_id, host_id or account_id")
	}
	if err := firstErr(
		d.reqStr(fSource, &ev.Source),
		d.reqStr(fLabel, &ev.Label),
	); err != nil {
		return err
	}
	sp, _, err := d.get(fScore, true)
	if err != nil {
		return err
	}
	ev.Score, err = d.float("score", sp, 0, 1, "must be a number between 0 and 1")
	return err
}

// parseInteger parses the text of a valid JSON number whose value is a whole
// number that fits int64: "42", "-7", "3.0", "1e3", "2.50e1". It is exact:
// "1.0000000000000001" is not whole and is refused, where a float detour
// would round it to 1.
func parseInteger(s []byte) (int64, bool) {
	neg, ok := false, false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	// Fast path: plain digits.
	if len(s) > 0 && len(s) <= 18 {
		var n int64
		plain := true
		for _, c := range s {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if plain {
			if neg {
				n = -n
			}
			return n, true
		}
	}
	// Split into integer digits, fraction digits and exponent.
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[:i]
	var frac []byte
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		frac = s[i+1 : j]
		i = j
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		for ; i < len(s); i++ {
			if exp < 1e6 { // beyond that, the value is 0 or overflows anyway
				exp = exp*10 + int(s[i]-'0')
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	// The value is digits × 10^(exp-len(frac)) with digits = intPart ++ frac:
	// the decimal point sits after the first point digits.
	const limit = 1 << 63 // magnitude of math.MinInt64
	push := func(n uint64, c byte) (uint64, bool) {
		if n > (limit-uint64(c-'0'))/10 {
			return 0, false
		}
		return n*10 + uint64(c-'0'), true
	}
	ndig := len(intPart) + len(frac)
	point := len(intPart) + exp
	var n uint64
	for k := 0; k < ndig; k++ {
		var c byte
		if k < len(intPart) {
			c = intPart[k]
		} else {
			c = frac[k-len(intPart)]
		}
		if k >= point {
			if c != '0' {
				return 0, false // a non-zero digit after the point
			}
			continue
		}
		if n, ok = push(n, c); !ok {
			return 0, false
		}
	}
	for k := ndig; k < point && n != 0; k++ { // zeros implied by the exponent
		if n, ok = push(n, '0'); !ok {
			return 0, false
		}
	}
	if neg {
		return -int64(n), true // -(1<<63) wraps to math.MinInt64, as wanted
	}
	if n == limit {
		return 0, false
	}
	return int64(n), true
}
