package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminServer is the operators' listener (Config.AdminListen): /metrics,
// /readyz and /healthz, plain HTTP, apart from the public listener so that a
// deployment can keep its metrics off the address senders and moderators
// reach. It serves until the end of Run, after the drain, so the stop itself
// can be watched.
type adminServer struct {
	ln  net.Listener
	srv *http.Server
}

// metricsHandler serves the service's registry.
func (s *Service) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}

// openAdmin listens on Config.AdminListen (or Options.AdminListener).
func (s *Service) openAdmin() error {
	ln := s.opts.AdminListener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.AdminListen); err != nil {
			return fmt.Errorf("admin listen: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.metricsHandler())
	mux.HandleFunc("/readyz", s.readyz)
	mux.HandleFunc("/healthz", s.healthz)
	s.admin = &adminServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}}
	return nil
}

// AdminAddr is the admin listener's address, "" when there is none.
func (s *Service) AdminAddr() string {
	if s.admin == nil {
		return ""
	}
	return s.admin.ln.Addr().String()
}

// serve runs the admin server until stop; an error other than a stop is logged.
func (a *adminServer) serve(log *slog.Logger) {
	if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("admin listener stopped", "err", err)
	}
}

func (a *adminServer) stop(ctx context.Context) {
	if err := a.srv.Shutdown(ctx); err != nil {
		a.srv.Close()
	}
}
