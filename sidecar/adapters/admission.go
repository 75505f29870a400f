package adapters

import (
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// decision is what an admission hook tells its media server about a
// publish. The zero decision allows it. Each server writes it in its own
// form (nginxAnswer, srsAnswer, omeAnswer).
type decision struct {
	// deny refuses the publish: only ever for an authentic stream.start
	// that Options.Gate refuses (a lead's lever).
	deny bool
}

// decide is the one place where the answer to an admission hook is chosen.
// authentic is false for a request that failed authentication or could not
// be read; evs are what an authentic one mapped to, whether or not the Sink
// took them.
//
// A sidecar must never stop a broadcast by accident: not for a bad secret, a
// malformed body, a full queue, a timeout or a shutdown. So it allows,
// except for one deliberate case: an authentic stream.start that
// Options.Gate refuses, which is a lead's enforcement lever naming its host
// or device (sidecar/enforce, off by default). A Gate that panics allows.
func (b *base) decide(authentic bool, evs []event.Event) (d decision) {
	if !authentic || b.opts.Gate == nil {
		return decision{}
	}
	defer func() {
		if p := recover(); p != nil {
			b.count(resultPanic)
			b.log.warn(b.name+"/gate_"+resultPanic, "enforcement gate panicked", "adapter", b.name,
				"panic", fmt.Sprint(p), "answer", "allow")
			d = decision{}
		}
	}()
	for i := range evs {
		if evs[i].Type == event.TypeStreamStart && b.opts.Gate(&evs[i]) {
			b.count(resultDenied)
			return decision{deny: true}
		}
	}
	return decision{}
}

// mapped is what an admission handler made of an authentic body.
type mapped struct {
	evs []event.Event
	err error // the start or end breaks the contract's limits: counted, not recorded
	// closing: the answer is OvenMediaEngine's closing form, {}. Set from the
	// body even when it fails authentication, since the form is not a
	// decision, only the shape OvenMediaEngine expects.
	closing bool
}

// admit serves one admission hook. handle authenticates and maps the body;
// answer writes the decision in the server's form. Whatever happens before
// (a request refused or unreadable, a body too slow, a Sink failing, slow or
// stuck, a panic in the handler) answer is called once, with decide's
// decision, within SinkTimeout of the call, and an unauthentic request
// records nothing.
func (b *base) admit(w http.ResponseWriter, r *http.Request,
	handle func(r *http.Request, body []byte) (mapped, error),
	answer func(w http.ResponseWriter, d decision, closing bool)) {
	deadline := time.Now().Add(b.opts.SinkTimeout)
	var (
		m    mapped
		d    decision
		done bool // d was decided for an authentic body
	)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			b.count(resultPanic)
			b.log.warn(b.name+"/"+resultPanic, "webhook handler panicked", "adapter", b.name,
				"panic", fmt.Sprint(p), "answer", "allow")
			d, done = decision{}, true
		}
		if !done {
			d = decision{}
		}
		answer(w, d, m.closing)
	}()
	body, err := b.readBody(w, r, deadline)
	if err == nil {
		m, err = handle(r, body)
	}
	if err != nil {
		b.refused(r, err, "allow")
		return
	}
	d, done = b.decide(true, m.evs), true
	evs := m.evs
	if d.deny {
		evs = refusedEnds(evs)
	}
	_ = b.emit(r.Context(), deadline, evs, m.err) // counted and logged; the answer does not depend on it
}

// refusedEnds follows each start a lever refused with its end at the same
// instant, so the record keeps the attempt without an open broadcast that
// never happened.
func refusedEnds(evs []event.Event) []event.Event {
	out := make([]event.Event, 0, 2*len(evs))
	for _, ev := range evs {
		out = append(out, ev)
		if ev.Type == event.TypeStreamStart {
			out = append(out, event.Event{Type: event.TypeStreamEnd, TypeName: event.TypeStreamEnd.String(),
				ID: ev.ID + ".refused", At: ev.At, Node: ev.Node, StreamID: ev.StreamID, Reason: "refused_by_lever"})
		}
	}
	return out
}

// secretSet holds the accepted secrets of a server, replaced whole by a
// reload while requests read it.
type secretSet struct {
	p atomic.Pointer[[]string]
}

// set validates secrets as at construction and swaps them in. On error the
// secrets in use stay.
func (s *secretSet) set(secrets []string) error {
	if err := validateSecrets(secrets); err != nil {
		return err
	}
	c := slices.Clone(secrets)
	s.p.Store(&c)
	return nil
}

func (s *secretSet) get() []string { return *s.p.Load() }
