package devjobs

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// The paths of the service (the route table in package sdata names them).
const (
	PathSync    = "/sync"
	PathJobInfo = "/sync/jobinfo/"
	PathResults = "/sync/results/"
	PathUploads = "/sync/uploads"
)

// JobInfo is the answer of GET /sync/jobinfo/{id}.
type JobInfo struct {
	SyncJobUUID      string `json:"SyncJobUUID"`
	Status           string `json:"Status"` // queued, running, done, skipped, failed
	DeviceExternalID string `json:"DeviceExternalID"`
	ClientDBUUID     string `json:"ClientDBUUID,omitempty"`
	SupersededBy     string `json:"SupersededBy,omitempty"`
	// LocalDataUpdatesResponseURL is set when the job is done and the
	// device sent data.
	LocalDataUpdatesResponseURL  string `json:"LocalDataUpdatesResponseURL,omitempty"`
	RemoteDataUpdatesResponseURL string `json:"RemoteDataUpdatesResponseURL,omitempty"`
	// LastSyncDateTime is the value the device sends with its next sync
	// once it has read RemoteDataUpdates.
	LastSyncDateTime string `json:"LastSyncDateTime,omitempty"`
	LocalRows        int    `json:"LocalRows"`
	RemoteRows       int    `json:"RemoteRows"`
	Failure          string `json:"Failure,omitempty"`
	Created          string `json:"Created"`
	Started          string `json:"Started,omitempty"`
	Finished         string `json:"Finished,omitempty"`
	Expires          string `json:"Expires,omitempty"`
}

// ready refuses the routes when no engine is configured.
func (s *Service) ready() error {
	if s.eng == nil || s.st == nil {
		return diag.New(diag.Unavailable, "device sync jobs are not available: no device-sync engine is configured")
	}
	return nil
}

// mayActFor refuses a principal that is neither an admin nor the device's
// own credential.
func mayActFor(r *http.Request, device string) error {
	p := auth.From(r.Context())
	if p.IsAdmin() || p != nil && p.Device != "" && p.Device == device {
		return nil
	}
	name := "anonymous"
	if p != nil {
		name = p.Name
	}
	return diag.New(diag.Forbidden, "%s may not act for device %q: a device credential acts for its own device only", name, device)
}

// readJSON reads a JSON body within max bytes (413 above it).
func readJSON(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil, diag.New(diag.UnsupportedMediaType, "unsupported media type %q: send application/json", ct)
		}
	}
	return wire.ReadLimited(w, r, max)
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error { return wire.WriteJSON(w, status, v) }

// holdClientDB marks a POST /sync of a ClientDBUUID in flight; false when
// one is already (the device must wait for it to return).
func (s *Service) holdClientDB(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[id] {
		return false
	}
	s.inflight[id] = true
	return true
}

func (s *Service) releaseClientDB(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, id)
}

// Post serves POST /sync: it checks the request, keeps its data and
// queues the job. Nothing is stored unless every check passes.
func (s *Service) Post(w http.ResponseWriter, r *http.Request, _ site.Target) (err error) {
	if err := s.ready(); err != nil {
		return err
	}
	start := time.Now()
	body, err := readJSON(w, r, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	q, err := decodeSyncRequest(body)
	if err != nil {
		return err
	}
	if strings.TrimSpace(q.DeviceExternalID) == "" {
		return bad("DeviceExternalID is missing: every sync job belongs to a device")
	}
	if err := mayActFor(r, q.DeviceExternalID); err != nil {
		return err
	}
	if q.ClientDBUUID != "" {
		if !s.holdClientDB(q.ClientDBUUID) {
			return diag.New(diag.Conflict, "a sync request of ClientDBUUID %q is still being handled: wait for it to return before sending another", q.ClientDBUUID)
		}
		defer s.releaseClientDB(q.ClientDBUUID)
	}
	dev := q.device(auth.Name(r))
	now := time.Now().UTC()
	inline, byURL := !isNull(q.LocalDataUpdates), q.LocalDataUpdatesURL != nil && *q.LocalDataUpdatesURL != ""
	var data []byte
	var claim string
	switch {
	case inline && byURL:
		return bad("LocalDataUpdates and LocalDataUpdatesURL are mutually exclusive: send one of them")
	case !inline && !byURL && q.LastSyncDateTime != "":
		return bad("neither LocalDataUpdates nor LocalDataUpdatesURL: send one of them (LocalDataUpdates {} when nothing changed); only a first sync may omit both")
	case inline:
		data = q.LocalDataUpdates
	case byURL:
		claim, err = s.uploadID(*q.LocalDataUpdatesURL)
		if err != nil {
			return err
		}
		if data, err = s.st.DevUploadData(r.Context(), claim, q.DeviceExternalID, now); errors.Is(err, store.ErrUpload) {
			return bad("LocalDataUpdatesURL is not an upload of this device that is ready and unused: upload URLs are single use and expire after %s", s.cfg.UploadTTL)
		} else if err != nil {
			return err
		}
	}
	var updates []componentRows
	if data != nil {
		if updates, err = decodeUpdates(data); err != nil {
			return err
		}
		for _, u := range updates {
			if _, err := s.eng.Component(r.Context(), dev, u.Alias); err != nil {
				if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					return err
				}
				return bad("LocalDataUpdates: component alias %q: %s", u.Alias, err.Error())
			}
		}
	}
	fields, _ := json.Marshal(q.fields())
	j := store.DevJob{UUID: store.NewUUID(), Device: q.DeviceExternalID, ClientDB: q.ClientDBUUID, Principal: dev.Principal,
		Fields: fields, LastSync: q.LastSyncDateTime, HasData: len(updates) > 0}
	var big []byte
	switch {
	case claim != "": // by URL: claimed for good (single use), even when empty
	case !j.HasData:
	case len(data) > InlineMax:
		big = data
	default:
		j.Request = data
	}
	j, err = s.st.CreateDevJob(r.Context(), j, claim, big, now)
	if errors.Is(err, store.ErrUpload) {
		return bad("LocalDataUpdatesURL was used or expired meanwhile: upload URLs are single use")
	}
	if err != nil {
		return err
	}
	s.audit(r.Context(), j, "devicejob.post", r.RemoteAddr, http.StatusOK, countRows(updates), time.Since(start), map[string]any{
		"fields": json.RawMessage(fields), "principal": dev.Principal, "byURL": byURL, "keptAsUpload": big != nil, "bytes": len(data)})
	s.log.InfoContext(r.Context(), "device job queued", "trackingID", j.UUID, "device", j.Device, "runName", runName(j.Device),
		"rows", countRows(updates))
	s.wakeUp()
	return writeJSON(w, http.StatusOK, map[string]string{"SyncJobUUID": j.UUID, "URI": PathJobInfo + j.UUID})
}

func countRows(u []componentRows) int {
	n := 0
	for _, c := range u {
		n += len(c.Rows)
	}
	return n
}

// job finds the job a URL names, for its own device (or an admin).
func (s *Service) job(r *http.Request, id string) (store.DevJob, error) {
	if err := s.ready(); err != nil {
		return store.DevJob{}, err
	}
	j, err := s.st.DevJob(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return j, diag.New(diag.NoJob, "no sync job %q (finished jobs expire after %s)", id, s.cfg.ResultTTL)
	}
	if err != nil {
		return j, err
	}
	return j, mayActFor(r, j.Device)
}

// Info serves GET /sync/jobinfo/{id}.
func (s *Service) Info(w http.ResponseWriter, r *http.Request, t site.Target) error {
	j, err := s.job(r, t.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.info(j))
}

func (s *Service) info(j store.DevJob) JobInfo {
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	in := JobInfo{SyncJobUUID: j.UUID, Status: j.Status, DeviceExternalID: j.Device, ClientDBUUID: j.ClientDB, SupersededBy: j.SupersededBy,
		LocalRows: j.LocalRows, RemoteRows: j.RemoteRows, Failure: j.Failure, Created: stamp(j.Created), Started: stamp(j.Started),
		Finished: stamp(j.Finished), Expires: stamp(j.Expires)}
	if j.Status == store.DevJobDone {
		if j.HasData {
			in.LocalDataUpdatesResponseURL = s.cfg.BaseURL + PathResults + j.UUID + "/local"
		}
		in.RemoteDataUpdatesResponseURL = s.cfg.BaseURL + PathResults + j.UUID + "/remote"
		in.LastSyncDateTime = j.Cursor
	}
	return in
}

// CreateUpload serves POST /sync/uploads: it issues a single-use upload
// URL for a device's LocalDataUpdates, expiring after the upload TTL. The
// body may name the device ({"DeviceExternalID": "..."}); a device
// credential gets a URL for its own device.
func (s *Service) CreateUpload(w http.ResponseWriter, r *http.Request, _ site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	body, err := readJSON(w, r, 64<<10)
	if err != nil {
		return err
	}
	var q struct {
		DeviceExternalID string `json:"DeviceExternalID"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &q); err != nil {
			return bad("malformed upload request: %s", jsonProblem(err))
		}
	}
	if q.DeviceExternalID == "" {
		if p := auth.From(r.Context()); p != nil {
			q.DeviceExternalID = p.Device
		}
	}
	if q.DeviceExternalID == "" {
		return bad("DeviceExternalID is missing: an upload URL belongs to a device")
	}
	if err := mayActFor(r, q.DeviceExternalID); err != nil {
		return err
	}
	id := uuid.NewString()
	now := time.Now().UTC()
	exp := now.Add(s.cfg.UploadTTL)
	if err := s.st.CreateDevUpload(r.Context(), id, q.DeviceExternalID, now, exp); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"UploadURL": s.cfg.BaseURL + PathUploads + "/" + id, "Method": http.MethodPut,
		"Expires": exp.Format(time.RFC3339), "MaxBytes": s.cfg.MaxUpload})
}

// PutUpload serves PUT /sync/uploads/{id}: the LocalDataUpdates object,
// once, before the URL expires (413 above the upload limit).
func (s *Service) PutUpload(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	body, err := readJSON(w, r, s.cfg.MaxUpload)
	if err != nil {
		return err
	}
	if _, err := decodeUpdates(body); err != nil {
		return err
	}
	device := ""
	if p := auth.From(r.Context()); !p.IsAdmin() {
		if p == nil || p.Device == "" {
			return mayActFor(r, "")
		}
		device = p.Device
	}
	err = s.st.PutDevUpload(r.Context(), t.ID, device, body, time.Now().UTC())
	if errors.Is(err, store.ErrUpload) {
		return diag.New(diag.NoJob, "no open upload %q for this device: upload URLs are single use and expire after %s", t.ID, s.cfg.UploadTTL)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadID returns the id of an upload URL this server issued; any other
// URL is refused and never fetched.
func (s *Service) uploadID(raw string) (string, error) {
	u, err := url.Parse(raw)
	refuse := bad("LocalDataUpdatesURL %q is not an upload URL this server issued (POST %s gives one); other URLs are never fetched", raw, PathUploads)
	if err != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", refuse
	}
	if u.Scheme != "" || u.Host != "" {
		base, err := url.Parse(s.cfg.BaseURL)
		if err != nil || !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) {
			return "", refuse
		}
	}
	id, ok := strings.CutPrefix(u.Path, PathUploads+"/")
	if !ok {
		return "", refuse
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", refuse
	}
	return id, nil
}
