package replay

import (
	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
)

// Recorder keeps what a replay produces: sidecar/store's Writer is one.
type Recorder interface {
	Event(*event.Event)
	Signal(analyzer.Signal)
	Session(analyzer.Session)
	Alert(analyzer.Alert)
}

// Record wires r into o: every analysed event, the engine's signals and
// sessions, and every alert version, beside the hooks o already has.
func (o *Options) Record(r Recorder) {
	sink := o.Sink
	o.Sink = func(a analyzer.Alert) {
		r.Alert(a)
		if sink != nil {
			sink(a)
		}
	}
	if onEvent := o.OnEvent; onEvent == nil {
		o.OnEvent = r.Event
	} else {
		o.OnEvent = func(ev *event.Event) {
			r.Event(ev)
			onEvent(ev)
		}
	}
	engine := o.Engine
	o.Engine = func(eng *analyzer.Engine) {
		if engine != nil {
			engine(eng)
		}
		eng.OnSignal = r.Signal
		eng.OnSession = r.Session
	}
}
