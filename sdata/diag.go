package sdata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"sdatasync/feeds"
	"sdatasync/sdata/query"
	"sdatasync/sdata/store"
)

// SData diagnosis codes (core 3.10) used by this provider.
const (
	CodeBadURLSyntax          = "BadUrlSyntax"
	CodeBadQueryParameter     = "BadQueryParameter"
	CodeBadWhereSyntax        = "BadWhereSyntax"
	CodeApplicationNotFound   = "ApplicationNotFound"
	CodeContractNotFound      = "ContractNotFound"
	CodeDatasetNotFound       = "DatasetNotFound"
	CodeResourceKindNotFound  = "ResourceKindNotFound"
	CodeResourceNotFound      = "ResourceNotFound"
	CodeApplicationDiagnosis  = "ApplicationDiagnosis"
	CodeInvalidPayload        = "InvalidPayload" // applicationCode: the payload does not match the contract
	CodeMethodNotAllowed      = "MethodNotAllowed"
	CodeUnsupportedMediaType  = "UnsupportedMediaType"
	CodeRequestEntityTooLarge = "RequestEntityTooLarge"
	CodePreconditionFailed    = "PreconditionFailed"
	CodeConflict              = "Conflict"
	CodeInternal              = "InternalServerError"
)

// Error is an HTTP error with its SData diagnoses. Handlers return it; the
// router writes it as an sdata:diagnoses document.
type Error struct {
	Status    int
	Diagnoses []feeds.Diagnosis
	Allow     string // for 405: the Allow header
}

func (e *Error) Error() string {
	if len(e.Diagnoses) == 0 {
		return http.StatusText(e.Status)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Diagnoses[0].SDataCode, e.Diagnoses[0].Message)
}

// errorf builds an Error with one diagnosis of severity error.
func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Diagnoses: []feeds.Diagnosis{{
		Severity: "error", SDataCode: code, Message: fmt.Sprintf(format, args...),
	}}}
}

// payloadError is a 400 for a payload that does not match the contract.
func payloadError(path, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Diagnoses: []feeds.Diagnosis{{
		Severity: "error", SDataCode: CodeApplicationDiagnosis, ApplicationCode: CodeInvalidPayload,
		Message: fmt.Sprintf(format, args...), PayloadPath: path,
	}}}
}

// asError maps any error to an *Error: known errors of the codec, query and
// store packages get their proper status; anything else is a 500 whose
// message does not leak internals.
func asError(ctx context.Context, log *slog.Logger, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var qe *query.Error
	var lim *feeds.LimitError
	var syn *feeds.SyntaxError
	var fe *feeds.FormatError
	switch {
	case errors.As(err, &qe):
		return errorf(http.StatusBadRequest, qe.Code, "%s", qe.Error())
	case errors.As(err, &lim):
		return errorf(http.StatusRequestEntityTooLarge, CodeRequestEntityTooLarge, "%s", lim.Error())
	case errors.As(err, &syn):
		return errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "malformed XML: %s", syn.Error())
	case errors.As(err, &fe):
		return errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "%s", fe.Error())
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, CodeResourceNotFound, "resource not found")
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, CodeConflict, "%s", err.Error())
	case errors.Is(err, store.ErrPrecondition):
		return errorf(http.StatusPreconditionFailed, CodePreconditionFailed, "the resource has changed: If-Match does not match its current ETag")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Diagnoses: []feeds.Diagnosis{{
			Severity: "transient", SDataCode: CodeApplicationDiagnosis, Message: "request cancelled or timed out"}}}
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return &Error{Status: http.StatusInternalServerError, Diagnoses: []feeds.Diagnosis{{
		Severity: "fatal", SDataCode: CodeApplicationDiagnosis, ApplicationCode: CodeInternal,
		Message: "internal server error; the request changed nothing it did not commit, see the server log"}}}
}

// writeError writes e as an sdata:diagnoses document.
func writeError(w http.ResponseWriter, e *Error) {
	var buf bytes.Buffer
	if err := feeds.WriteDiagnoses(&buf, e.Diagnoses); err != nil {
		http.Error(w, e.Error(), e.Status)
		return
	}
	if e.Allow != "" {
		w.Header().Set("Allow", e.Allow)
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	w.WriteHeader(e.Status)
	w.Write(buf.Bytes())
}
