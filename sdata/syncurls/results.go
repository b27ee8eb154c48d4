package syncurls

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// resultDetail is what the audit log keeps of one entry of a posted result
// feed.
type resultDetail struct {
	Diagnoses   []feeds.Diagnosis `json:"diagnoses,omitempty"`
	HTTPMessage string            `json:"httpMessage"`
	HTTPMethod  string            `json:"httpMethod"`
	HTTPStatus  int               `json:"httpStatus"`
	ID          string            `json:"id"`
	SyncState   *digest.SyncState `json:"syncState,omitempty"`
	UUID        string            `json:"uuid,omitempty"`
}

// resultsLog is the audit detail of a posted result feed: how many entries
// had each HTTP status, and every entry.
type resultsLog struct {
	Statuses map[string]int `json:"statuses"`
	Entries  []resultDetail `json:"entries"`
}

// Results serves POST $syncResults: the engine reports what the target did
// with a page; the source records it in the audit log.
func (s *Service) Results() site.Handler {
	return s.audited(OpResults, func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		body, err := wire.ReadBody(w, r, s.maxBody)
		if err != nil {
			return 0, err
		}
		// The log keeps what each result says, not the payloads: no trees.
		f, err := feeds.ScanFeed(bytes.NewReader(body), s.limits)
		if err != nil {
			return 0, err
		}
		var named []string
		for _, e := range f.Entries {
			if e.SyncState != nil {
				named = append(named, e.SyncState.Endpoint)
			}
		}
		if err := s.trust(r.Context(), named...); err != nil {
			return 0, err
		}
		// One record per posted feed, every entry listed in its detail: the
		// same information as a record per entry, at a fraction of the writes.
		if len(f.Entries) > 0 {
			log := resultsLog{Statuses: map[string]int{}, Entries: make([]resultDetail, len(f.Entries))}
			status := http.StatusOK
			for i, e := range f.Entries {
				log.Entries[i] = resultDetail{ID: e.ID, HTTPStatus: e.HTTPStatus, HTTPMethod: e.HTTPMethod, HTTPMessage: e.HTTPMessage,
					UUID: e.UUID, SyncState: e.SyncState, Diagnoses: e.Diagnoses}
				log.Statuses[strconv.Itoa(e.HTTPStatus)]++
				if e.HTTPStatus >= 300 || e.HTTPStatus < 200 {
					status = max(status, e.HTTPStatus)
				}
			}
			if err := s.st.Audit(r.Context(), store.AuditRecord{Time: time.Now().UTC(), Dataset: t.Dataset, Kind: t.Kind.PluralName,
				Operation: "result", TrackingID: ru.Tracking, RunName: ru.Name, RunStamp: ru.Stamp, RunTime: ru.StampTime,
				Client: r.RemoteAddr, Principal: auth.Name(r), Status: status, Count: len(f.Entries), Detail: jsonString(log)}); err != nil {
				return 0, err
			}
		}
		w.WriteHeader(http.StatusOK)
		return len(f.Entries), nil
	})
}
