package cases

import (
	"sync/atomic"
	"time"
)

// Change is a case that changed: a note, a lead's approval, a submission, a
// new version of its alert.
// The service composing the cases (sidecar/serve) hands it to the hub, which
// tells every console (hub.PublishCase).
type Change struct {
	CaseID  string
	AlertID string
	// What changed: note, approve or submit (the case action), or version
	// (a new version of the alert, added by Observe; By is empty).
	What string
	// Status and Version of the case after the change.
	Status  string
	Version int
	By      string
	At      time.Time
}

// changed holds the function told of changes (SetChanged).
type changed struct{ f atomic.Pointer[func(Change)] }

// SetChanged sets the function told of every change, called after the change
// is in the record, on the changing request's goroutine or Observe's (it
// must not block).
// The hub that tells the consoles is built after the cases service.
func (s *Service) SetChanged(f func(Change)) {
	if f == nil {
		s.changed.f.Store(nil)
		return
	}
	s.changed.f.Store(&f)
}

// tell reports c as changed by what.
func (s *Service) tell(c *Case, what, by string, at time.Time) {
	f := s.changed.f.Load()
	if f == nil || c == nil {
		return
	}
	(*f)(Change{CaseID: c.ID, AlertID: c.AlertID, What: what, Status: c.Status, Version: c.Version, By: by, At: at})
}
