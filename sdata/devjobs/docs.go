package devjobs

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// LocalResults serves GET /sync/results/{id}/local: the
// LocalDataUpdatesResponse of a done job, a result per row the device
// sent, grouped by component alias:
//
//	{"SyncJobUUID": "...", "LocalDataUpdatesResponse": {"alias": [{"uid", "actionId", "mDataRow", "rowStatus"}, ...]}}
func (s *Service) LocalResults(w http.ResponseWriter, r *http.Request, t site.Target) error {
	j, err := s.doneJob(r, t.ID)
	if err != nil {
		return err
	}
	if !j.HasData {
		return diag.New(diag.NoResource, "sync job %s carried no LocalDataUpdates: it has no LocalDataUpdatesResponse", j.UUID)
	}
	_, err = s.stream(r.Context(), w, j, store.PartLocal, "LocalDataUpdatesResponse", "")
	return err
}

// RemoteResults serves GET /sync/results/{id}/remote: what changed on the
// server since the device's LastSyncDateTime (its own changes included, as
// they stand after the merge), grouped by component alias, and the
// LastSyncDateTime to send next:
//
//	{"SyncJobUUID": "...", "LastSyncDateTime": "...", "RemoteDataUpdates": {"alias": [{"uid", "actionId", "mDataRow"}, ...]}}
//
// Read to the end, it marks the job's cursor as one the device holds.
func (s *Service) RemoteResults(w http.ResponseWriter, r *http.Request, t site.Target) error {
	j, err := s.doneJob(r, t.ID)
	if err != nil {
		return err
	}
	complete, err := s.stream(r.Context(), w, j, store.PartRemote, "RemoteDataUpdates", j.Cursor)
	if err != nil || !complete {
		return err
	}
	if err := s.st.MarkDevDelivered(context.WithoutCancel(r.Context()), j.UUID); err != nil {
		s.log.Error("marking a device cursor delivered", "trackingID", j.UUID, "err", err)
	}
	return nil
}

// doneJob finds a job whose answers can be read.
func (s *Service) doneJob(r *http.Request, id string) (store.DevJob, error) {
	j, err := s.job(r, id)
	if err != nil {
		return j, err
	}
	if j.Status != store.DevJobDone {
		return j, diag.New(diag.Conflict, "sync job %s is %s: its answers are read once it is done (GET %s%s)", j.UUID, j.Status, PathJobInfo, j.UUID)
	}
	return j, nil
}

// stream writes one answer document of a job from the store, a chunk of
// rows at a time: its memory does not grow with the rows. complete says
// whether the whole document was written.
func (s *Service) stream(ctx context.Context, w http.ResponseWriter, j store.DevJob, part int, member, cursor string) (complete bool, err error) {
	rows, err := s.st.DevRows(ctx, j.ID, part, 0, rowsChunk)
	if err != nil {
		return false, err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	str := func(v string) { b, _ := json.Marshal(v); bw.Write(b) }
	bw.WriteString(`{"SyncJobUUID":`)
	str(j.UUID)
	if cursor != "" {
		bw.WriteString(`,"LastSyncDateTime":`)
		str(cursor)
	}
	bw.WriteString(`,"` + member + `":{`)
	alias, open := "", false
	for len(rows) > 0 {
		for _, r := range rows {
			switch {
			case !open || r.Alias != alias:
				if open {
					bw.WriteString("],")
				}
				str(r.Alias)
				bw.WriteString(":[")
				alias, open = r.Alias, true
			default:
				bw.WriteByte(',')
			}
			bw.Write(r.Row)
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if rows, err = s.st.DevRows(ctx, j.ID, part, rows[len(rows)-1].Seq, rowsChunk); err != nil {
			return false, err
		}
	}
	if open {
		bw.WriteByte(']')
	}
	bw.WriteString("}}\n")
	return true, bw.Flush()
}
