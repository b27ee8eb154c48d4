package jobs

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// RunOf is the run of a request to a job URL; a tracking id in the URL
// (op('{id}')) wins over the trackingID parameter.
func RunOf(r *http.Request, t site.Target) wire.Run {
	ru := wire.RunOf(r)
	if t.ID != "" {
		ru.Tracking = t.ID
	}
	return ru
}

// RequestHandler serves one request to a job URL (sync, batch); it returns
// how many entries the request carried or answered.
type RequestHandler func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error)

// Audited serves h and writes, for every request, one audit record
// (operation prefix.method, with the principal, the run, the status and
// the count) and one log line tagged with the run, for op (e.g.
// $syncSource).
func (rt *Runtime) Audited(prefix, op string, h RequestHandler) site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		ru := RunOf(r, t)
		start := time.Now()
		sw := &wire.StatusWriter{ResponseWriter: w}
		count, err := h(sw, r, t, ru)
		status := sw.Status
		if err != nil {
			status = diag.As(r.Context(), rt.log, err).Status
		}
		rt.Audit(r.Context(), store.AuditRecord{Dataset: t.Dataset, Kind: t.Kind.PluralName, Operation: prefix + "." + strings.ToLower(r.Method),
			TrackingID: ru.Tracking, RunName: ru.Name, RunStamp: ru.Stamp, RunTime: ru.StampTime, Client: r.RemoteAddr,
			Principal: auth.Name(r), Status: status, Count: count, Duration: time.Since(start)})
		rt.log.LogAttrs(r.Context(), diag.Level(status), "job request", LogAttrs(ru, t.Kind.PluralName, op, r.Method, status, count,
			auth.Name(r))...)
		return err
	}
}

// LogAttrs are the attributes of the log line of a request to a job URL.
func LogAttrs(ru wire.Run, kind, op, method string, status, count int, principal string) []slog.Attr {
	return []slog.Attr{slog.String("runName", ru.Name), slog.String("runStamp", ru.Stamp), slog.String("trackingID", ru.Tracking),
		slog.String("kind", kind), slog.String("op", op), slog.String("method", method), slog.Int("status", status), slog.Int("count", count),
		slog.String("principal", principal)}
}
