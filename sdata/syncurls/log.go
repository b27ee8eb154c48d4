package syncurls

import (
	"net/http"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// AuditNS is the namespace of the audit record payload in $syncLog feeds.
const AuditNS = "urn:sdatasync:audit"

// Log serves $syncLog of a dataset (the target names no kind) or of one
// kind: the audit log, newest first, paged, filtered by runName, runStamp,
// trackingID, kind, operation, principal (indexed), since and until.
func (s *Service) Log() site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		q := r.URL.Query()
		pg, err := wire.ParsePaging(q)
		if err != nil {
			return err
		}
		kind := ""
		if t.Kind != nil {
			kind = t.Kind.PluralName
		}
		aq := store.AuditQuery{Dataset: t.Dataset, Kind: kind, Operation: wire.QueryParam(q, "operation"), TrackingID: wire.QueryParam(q, "trackingID"),
			RunName: wire.QueryParam(q, "runName"), RunStamp: wire.QueryParam(q, "runStamp"), Principal: wire.QueryParam(q, "principal"), Offset: pg.Offset(), Limit: pg.Count}
		if kind == "" {
			aq.Kind = wire.QueryParam(q, "kind")
		}
		for _, p := range []struct {
			name string
			t    *time.Time
		}{{"since", &aq.Since}, {"until", &aq.Until}} {
			if v := wire.QueryParam(q, p.name); v != "" {
				tm, err := feeds.ParseTime(v)
				if err != nil {
					return diag.New(diag.BadParameter, "%s must be an ISO 8601 date or time, got %q", p.name, v)
				}
				*p.t = tm
			}
		}
		recs, total, err := s.st.AuditLog(r.Context(), aq)
		if err != nil {
			return err
		}
		self := s.site.DatasetURL(t.Dataset)
		if kind != "" {
			self += "/" + kind
		}
		self += "/" + OpLog
		head := &feeds.Feed{ID: self, Title: "Synchronization log", Updated: wire.NowUTC(), TotalResults: total, StartIndex: pg.Start,
			ItemsPerPage: pg.Count, Links: pg.Links(self, q, total)}
		fw, err := wire.StreamFeed(w, head)
		if err != nil {
			return err
		}
		for _, a := range recs {
			id := self + "('" + strconv.FormatInt(a.ID, 10) + "')"
			title := a.Operation + " " + a.Kind
			e := &feeds.Entry{ID: id, Title: title, Content: title, Updated: a.Time, Payload: auditElement(a),
				Links: []feeds.Link{{Rel: "self", Type: wire.TypeEntry, Href: id}}}
			if err := fw.WriteEntry(e); err != nil {
				return err
			}
		}
		return fw.Close()
	}
}

func auditElement(a store.AuditRecord) *etree.Element {
	el := etree.NewElement("syncLogEntry")
	el.CreateAttr("xmlns", AuditNS)
	add := func(name, v string) {
		if v != "" {
			el.CreateElement(name).SetText(v)
		}
	}
	add("time", feeds.FormatTime(a.Time))
	add("dataset", a.Dataset)
	add("kind", a.Kind)
	add("operation", a.Operation)
	add("trackingID", a.TrackingID)
	add("runName", a.RunName)
	add("runStamp", a.RunStamp)
	if !a.RunTime.IsZero() {
		add("runTime", feeds.FormatTime(a.RunTime))
	}
	add("client", a.Client)
	add("principal", a.Principal)
	add("httpStatus", strconv.Itoa(a.Status))
	add("count", strconv.Itoa(a.Count))
	add("durationMillis", strconv.FormatFloat(float64(a.Duration)/float64(time.Millisecond), 'f', 3, 64))
	add("detail", a.Detail)
	return el
}
