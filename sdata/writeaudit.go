package sdata

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// audited wraps the handler of a local write (resources, links): every
// request is recorded in the audit log as prefix.method with the
// authenticated principal (jobs.Runtime.Audit takes it from the request),
// the status and the resource it named or created. Sync and batch requests
// have their own records (jobs.Runtime.Audited).
func (s *Server) audited(prefix string, h site.Handler) site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		start := time.Now()
		sw := &wire.StatusWriter{ResponseWriter: w}
		err := h(sw, r, t)
		status := sw.Status
		if err != nil {
			status = diag.As(r.Context(), s.log, err).Status
		}
		d := map[string]string{}
		if t.Key != "" {
			d["key"] = t.Key
		}
		if t.ID != "" {
			d["id"] = t.ID
		}
		if loc := sw.Header().Get("Location"); loc != "" {
			d["location"] = loc
		}
		detail, _ := json.Marshal(d)
		s.jobs.Audit(r.Context(), store.AuditRecord{Dataset: t.Dataset, Kind: t.Kind.PluralName, Operation: prefix + "." + strings.ToLower(r.Method),
			Client: r.RemoteAddr, Status: status, Count: 1, Duration: time.Since(start), Detail: string(detail)})
		return err
	}
}
