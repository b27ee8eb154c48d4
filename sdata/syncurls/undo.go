package syncurls

import (
	"encoding/json"
	"net/http"
	"strconv"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// Audit operations of digest replacements.
const (
	// OpReplaced is a $syncDigest PUT or POST; its detail holds the digests
	// before and after.
	OpReplaced = "digest.replaced"
	// OpUndone is the undo of a replacement: the digest before it restored.
	OpUndone = "digest.undone"
)

// UndoDigest serves POST {kind}/$syncLog('{id}')/$undo: an admin restores the
// digest a recorded replacement overwrote. The restore goes through the
// same rules as any replacement (the provider's own tick never moves
// beyond its clock nor below a stored change) and is audited in its turn,
// naming the record it undoes; undoing the undo restores the replacement.
func (s *Service) UndoDigest() site.Handler {
	return s.audited(OpLog, func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		id, err := strconv.ParseInt(t.ID, 10, 64)
		if err != nil || id <= 0 {
			return 0, diag.New(diag.BadURL, "the audit record id must be a positive integer, got %q", t.ID)
		}
		recs, _, err := s.st.AuditLog(r.Context(), store.AuditQuery{ID: id, Dataset: t.Dataset, Kind: t.Kind.PluralName, Limit: 1})
		if err != nil {
			return 0, err
		}
		if len(recs) == 0 {
			return 0, diag.New(diag.NoSuchURL, "no audit record %d for %s in dataset %s", id, t.Kind.PluralName, t.Dataset)
		}
		rec := recs[0]
		if rec.Operation != OpReplaced && rec.Operation != OpUndone {
			return 0, diag.New(diag.Conflict, "audit record %d is a %q, not a digest replacement: only digest replacements can be undone", id, rec.Operation)
		}
		var ch digestChange
		if err := json.Unmarshal([]byte(rec.Detail), &ch); err != nil || len(ch.Before.Entries) == 0 {
			return 0, diag.New(diag.Conflict, "audit record %d does not hold the digest before the replacement", id)
		}
		if err := s.replaceDigest(r.Context(), t.Scope, ru, ch.Before, OpUndone, id); err != nil {
			return 0, err
		}
		d, err := s.st.Digest(r.Context(), t.Endpoint)
		if err != nil {
			return 0, err
		}
		u := s.site.OpURL(t.Scope, OpDigest, "")
		e := &feeds.Entry{ID: u, Title: "Synchronization digest (restored from audit record " + t.ID + ")", Updated: wire.NowUTC(), Digest: &d,
			Links: []feeds.Link{{Rel: "self", Type: wire.TypeEntry, Title: "Refresh", Href: u}}}
		return 0, wire.WriteEntry(w, http.StatusOK, e, "")
	})
}
