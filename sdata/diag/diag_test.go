package diag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"sdatasync/feeds"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/query"
	"sdatasync/sdata/store"
)

// TestAs: every error kind of the packages below the HTTP layer leaves
// with its status and code; anything else is a 500 that leaks nothing.
func TestAs(t *testing.T) {
	_, syn := feeds.ParseFeed(bytes.NewReader([]byte("<feed")), feeds.Limits{})
	_, lim := feeds.ParseFeed(bytes.NewReader([]byte("<feed xmlns='http://www.w3.org/2005/Atom'></feed>")), feeds.Limits{MaxBytes: 5})
	_, qe := query.ParseWhere("name eq")
	for _, tc := range []struct {
		err     error
		status  int
		code    string
		appCode string
	}{
		{New(NoSuchURL, "x"), http.StatusNotFound, CodeBadURLSyntax, ""},
		{fmt.Errorf("wrapped: %w", payload.Errorf("a/b", "bad")), http.StatusBadRequest, CodeApplicationDiagnosis, "InvalidPayload"},
		{qe, http.StatusBadRequest, CodeBadWhereSyntax, ""},
		{syn, http.StatusBadRequest, CodeApplicationDiagnosis, "BadRequest"},
		{lim, http.StatusRequestEntityTooLarge, CodeApplicationDiagnosis, "RequestEntityTooLarge"},
		{store.ErrNotFound, http.StatusNotFound, CodeApplicationDiagnosis, "ResourceNotFound"},
		{store.ErrConflict, http.StatusConflict, CodeApplicationDiagnosis, "Conflict"},
		{store.ErrPrecondition, http.StatusPreconditionFailed, CodeApplicationDiagnosis, "PreconditionFailed"},
		{context.Canceled, http.StatusServiceUnavailable, CodeApplicationDiagnosis, "Unavailable"},
		{errors.New("disk on fire at /var/secret"), http.StatusInternalServerError, CodeApplicationDiagnosis, "InternalServerError"},
	} {
		if tc.err == nil {
			t.Fatalf("case %d: no error to map", tc.status)
		}
		e := As(context.Background(), slog.New(slog.DiscardHandler), tc.err)
		if e.Status != tc.status || e.Diagnoses[0].SDataCode != tc.code || e.Diagnoses[0].ApplicationCode != tc.appCode {
			t.Errorf("%v: %d %+v, want %d %s/%s", tc.err, e.Status, e.Diagnoses[0], tc.status, tc.code, tc.appCode)
		}
		rec := httptest.NewRecorder()
		Write(rec, e)
		ds, err := feeds.ParseDiagnoses(rec.Body, feeds.Limits{})
		if err != nil || rec.Code != tc.status || len(ds) != 1 {
			t.Errorf("%v: written %d %v %v", tc.err, rec.Code, ds, err)
		}
		if bytes.Contains(rec.Body.Bytes(), []byte("secret")) {
			t.Errorf("an internal error leaked: %s", rec.Body.Bytes())
		}
	}
}
