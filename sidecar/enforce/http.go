package enforce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
)

// Paths of the levers' API.
const (
	Path     = "/v1/levers"
	liftPath = "/v1/levers/{id}/lift"
)

// maxRequestBytes bounds a request body.
const maxRequestBytes = 64 << 10

// Authorize answers who sent a request, from its bearer token, when its
// role is at least min ("viewer" or RoleLead). When it returns false it has
// answered the refusal itself (401, 403, 429).
type Authorize func(w http.ResponseWriter, r *http.Request, min string) (Actor, bool)

// roleViewer is the least role of the hub's tokens.
const roleViewer = "viewer"

// Register adds the levers' API to mux:
//
//	GET  /v1/levers            every lever kept (any signed-in role), or
//	                           a case's with ?case_id=, and the kinds
//	                           enabled with their durations (Enabled)
//	POST /v1/levers            approve one (lead): a Request as JSON
//	POST /v1/levers/{id}/lift  lift one (lead): {"reason": "…"}
func (b *Board) Register(mux *http.ServeMux, auth Authorize) {
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth(w, r, roleViewer); !ok {
			return
		}
		list := b.List()
		if id := r.URL.Query().Get("case_id"); id != "" {
			list = slices.DeleteFunc(list, func(l Lever) bool { return l.CaseID != id })
		}
		writeJSON(w, http.StatusOK, listAnswer{Levers: list, Enabled: b.Enabled(),
			DefaultDuration: Duration(b.o.Config.DefaultDuration), MaxDuration: Duration(b.o.Config.MaxDuration)})
	})
	mux.HandleFunc("POST "+Path, func(w http.ResponseWriter, r *http.Request) {
		who, ok := auth(w, r, RoleLead)
		if !ok {
			return
		}
		req, err := DecodeRequest(http.MaxBytesReader(w, r.Body, maxRequestBytes))
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		if b.o.Check != nil {
			if err := b.o.Check(r.Context(), &req); err != nil {
				writeErr(w, statusOf(err), err.Error())
				return
			}
		}
		l, err := b.Approve(req, who)
		if err != nil {
			writeErr(w, statusOf(err), err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, l)
	})
	mux.HandleFunc("POST "+liftPath, func(w http.ResponseWriter, r *http.Request) {
		who, ok := auth(w, r, RoleLead)
		if !ok {
			return
		}
		var body struct {
			Reason string `json:"reason"`
		}
		if err := decodeStrict(http.MaxBytesReader(w, r.Body, maxRequestBytes), &body); err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		l, err := b.Lift(r.PathValue("id"), who, body.Reason)
		if err != nil {
			writeErr(w, statusOf(err), err.Error())
			return
		}
		writeJSON(w, http.StatusOK, l)
	})
}

// listAnswer is GET /v1/levers' answer. Enabled, DefaultDuration and
// MaxDuration tell a console which approval form to offer (read only).
type listAnswer struct {
	Levers          []Lever  `json:"levers"`
	Enabled         []string `json:"enabled"`
	DefaultDuration Duration `json:"default_duration"`
	MaxDuration     Duration `json:"max_duration"`
}

// DecodeRequest reads one lever request: JSON, unknown fields refused,
// nothing after it.
func DecodeRequest(r io.Reader) (Request, error) {
	var req Request
	if err := decodeStrict(r, &req); err != nil {
		return Request{}, err
	}
	return req, nil
}

func decodeStrict(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the object", ErrInvalid)
	}
	return nil
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrDisabled):
		return http.StatusConflict
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNoCase):
		return http.StatusNotFound
	case errors.Is(err, ErrFull):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
