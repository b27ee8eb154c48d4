package devjobs

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"sdatasync/sdata/diag"
)

// syncRequest is the body of POST /sync.
type syncRequest struct {
	LocalDataUpdates    json.RawMessage `json:"LocalDataUpdates"`
	LocalDataUpdatesURL *string         `json:"LocalDataUpdatesURL"`
	LastSyncDateTime    string          `json:"LastSyncDateTime"`
	DeviceExternalID    string          `json:"DeviceExternalID"`
	ClientDBUUID        string          `json:"ClientDBUUID"`
	CPIVersion          string          `json:"CPIVersion"`
	TimeZoneDiff        json.RawMessage `json:"TimeZoneDiff"`
	Locale              string          `json:"Locale"`
	BrandedAppID        string          `json:"BrandedAppID"`
	UserFullName        string          `json:"UserFullName"`
	SoftwareVersion     string          `json:"SoftwareVersion"`
	SourceType          string          `json:"SourceType"`
	DeviceModel         string          `json:"DeviceModel"`
	DeviceName          string          `json:"DeviceName"`
	DeviceScreenSize    string          `json:"DeviceScreenSize"`
	SystemName          string          `json:"SystemName"`
	// Filters (an extension of the API) gives, per component alias, the
	// filter values of components that have filter keys.
	Filters map[string]map[string][]string `json:"Filters"`
}

// logFields are the device fields of a request kept for the log (and the
// audit records of its job): everything but the data.
type logFields struct {
	DeviceExternalID string          `json:"DeviceExternalID"`
	ClientDBUUID     string          `json:"ClientDBUUID,omitempty"`
	LastSyncDateTime string          `json:"LastSyncDateTime,omitempty"`
	CPIVersion       string          `json:"CPIVersion,omitempty"`
	TimeZoneDiff     json.RawMessage `json:"TimeZoneDiff,omitempty"`
	Locale           string          `json:"Locale,omitempty"`
	BrandedAppID     string          `json:"BrandedAppID,omitempty"`
	UserFullName     string          `json:"UserFullName,omitempty"`
	SoftwareVersion  string          `json:"SoftwareVersion,omitempty"`
	SourceType       string          `json:"SourceType,omitempty"`
	DeviceModel      string          `json:"DeviceModel,omitempty"`
	DeviceName       string          `json:"DeviceName,omitempty"`
	DeviceScreenSize string          `json:"DeviceScreenSize,omitempty"`
	SystemName       string          `json:"SystemName,omitempty"`
	// Filters are kept with the fields: the job runs with them.
	Filters map[string]map[string][]string `json:"Filters,omitempty"`
}

func (q *syncRequest) fields() logFields {
	return logFields{DeviceExternalID: q.DeviceExternalID, ClientDBUUID: q.ClientDBUUID, LastSyncDateTime: q.LastSyncDateTime,
		CPIVersion: q.CPIVersion, TimeZoneDiff: q.TimeZoneDiff, Locale: q.Locale, BrandedAppID: q.BrandedAppID, UserFullName: q.UserFullName,
		SoftwareVersion: q.SoftwareVersion, SourceType: q.SourceType, DeviceModel: q.DeviceModel, DeviceName: q.DeviceName,
		DeviceScreenSize: q.DeviceScreenSize, SystemName: q.SystemName, Filters: q.Filters}
}

func (q *syncRequest) device(principal string) Device {
	return Device{ExternalID: q.DeviceExternalID, ClientDBUUID: q.ClientDBUUID, App: q.BrandedAppID, AppVersion: q.SoftwareVersion,
		User: q.UserFullName, Principal: principal, Filters: q.Filters}
}

// deviceOf is the device of a stored job's fields.
func deviceOf(fields []byte, principal string) Device {
	var f logFields
	_ = json.Unmarshal(fields, &f) // written by this package
	return Device{ExternalID: f.DeviceExternalID, ClientDBUUID: f.ClientDBUUID, App: f.BrandedAppID, AppVersion: f.SoftwareVersion,
		User: f.UserFullName, Principal: principal, Filters: f.Filters}
}

// decodeSyncRequest reads the body of POST /sync: one JSON object; the
// fields are checked by the handler.
func decodeSyncRequest(body []byte) (*syncRequest, error) {
	var q syncRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&q); err != nil {
		return nil, diag.New(diag.BadRequest, "malformed sync request: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, diag.New(diag.BadRequest, "malformed sync request: data after the JSON object")
	}
	if len(q.TimeZoneDiff) > 0 && q.TimeZoneDiff[0] != '"' && q.TimeZoneDiff[0] != 'n' {
		if _, err := strconv.ParseFloat(string(q.TimeZoneDiff), 64); err != nil {
			return nil, diag.New(diag.BadRequest, "malformed sync request: TimeZoneDiff must be a number or a string")
		}
	}
	return &q, nil
}

// jsonProblem describes a JSON decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("%s must be a %s, not a JSON %s", te.Field, goToJSON(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends before the JSON object does"
	}
	return err.Error()
}

func goToJSON(k string) string {
	switch k {
	case "string":
		return "string"
	case "int", "int64", "float64":
		return "number"
	case "slice":
		return "list"
	case "map", "struct":
		return "object"
	}
	return "value of another type"
}

// componentRows are the rows a device sent for one component alias.
type componentRows struct {
	Alias string
	Rows  []Row
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// decodeUpdates reads LocalDataUpdates: an object whose members are
// component aliases, each a list of rows (uid, actionId 0/1/2, mDataRow),
// kept in the order sent (the device sends referenced components first).
func decodeUpdates(raw []byte) ([]componentRows, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, bad("LocalDataUpdates: %s", jsonProblem(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, bad("LocalDataUpdates must be an object of component aliases, each a list of rows")
	}
	var out []componentRows
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("LocalDataUpdates: %s", jsonProblem(err))
		}
		alias := tok.(string) // object keys are strings
		if alias == "" || seen[alias] {
			return nil, bad("LocalDataUpdates: component alias %q is empty or named twice", alias)
		}
		seen[alias] = true
		var rows []json.RawMessage
		if err := dec.Decode(&rows); err != nil {
			return nil, bad("LocalDataUpdates.%s must be a list of rows: %s", alias, jsonProblem(err))
		}
		cr := componentRows{Alias: alias, Rows: make([]Row, len(rows))}
		for i, r := range rows {
			row, err := decodeRow(r)
			if err != nil {
				return nil, bad("LocalDataUpdates.%s[%d]: %s", alias, i, err)
			}
			cr.Rows[i] = row
		}
		out = append(out, cr)
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("LocalDataUpdates: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("LocalDataUpdates: data after the object")
	}
	return out, nil
}

// decodeRow reads one row: actionId a number or a numeric string (0, 1,
// 2); mDataRow an object (required unless a delete names its uid).
func decodeRow(raw json.RawMessage) (Row, error) {
	var w struct {
		UID      *string         `json:"uid"`
		ActionID json.RawMessage `json:"actionId"`
		MDataRow json.RawMessage `json:"mDataRow"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return Row{}, errors.New(jsonProblem(err))
	}
	var r Row
	if w.UID != nil {
		r.UID = *w.UID
	}
	a := string(bytes.Trim(bytes.TrimSpace(w.ActionID), `"`))
	n, err := strconv.Atoi(a)
	if err != nil || n < ActionInsert || n > ActionUpdate {
		return r, fmt.Errorf("actionId must be 0 (insert), 1 (delete) or 2 (update), got %s", cmp.Or(string(w.ActionID), "nothing"))
	}
	r.ActionID = n
	switch {
	case !isNull(w.MDataRow):
		if t := bytes.TrimSpace(w.MDataRow); t[0] != '{' {
			return r, errors.New("mDataRow must be an object")
		}
		r.MDataRow = w.MDataRow
	case n != ActionDelete || r.UID == "":
		return r, errors.New("mDataRow is required (a delete without it must name its uid)")
	}
	return r, nil
}

// bad is the 400 of a request whose data is not what the API expects.
func bad(format string, args ...any) error {
	return diag.New(diag.BadRequest, format, args...)
}
