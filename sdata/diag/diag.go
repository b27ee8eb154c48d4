// Package diag holds the diagnoses every error of the provider leaves as
// (SData core 3.10): the Error that handlers return, the diagnosis codes, the
// mapping of the errors of the codec, query, payload and store packages to an
// HTTP status with a diagnosis, and the writing of an sdata:diagnoses
// document. Nothing leaves the server as a Go error string or a stack trace.
package diag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sdatasync/feeds"
	"sdatasync/sdata/payload"
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

// Error renders the status and the first diagnosis.
func (e *Error) Error() string {
	if len(e.Diagnoses) == 0 {
		return http.StatusText(e.Status)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Diagnoses[0].SDataCode, e.Diagnoses[0].Message)
}

// Errorf builds an Error with one diagnosis of severity error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Diagnoses: []feeds.Diagnosis{{
		Severity: "error", SDataCode: code, Message: fmt.Sprintf(format, args...),
	}}}
}

// Payload is a 400 for a payload that does not match the contract, at path.
func Payload(path, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Diagnoses: []feeds.Diagnosis{{
		Severity: "error", SDataCode: CodeApplicationDiagnosis, ApplicationCode: CodeInvalidPayload,
		Message: fmt.Sprintf(format, args...), PayloadPath: path,
	}}}
}

// MethodNotAllowed is the 405 for a method outside allowed (which the Allow
// header lists, in the order given).
func MethodNotAllowed(method string, allowed ...string) *Error {
	e := Errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method %s is not allowed here; allowed: %s", method, strings.Join(allowed, ", "))
	e.Allow = strings.Join(allowed, ", ")
	return e
}

// Allow returns a 405 Error unless r's method is one of methods (HEAD goes
// where GET goes).
func Allow(r *http.Request, methods ...string) error {
	if slices.Contains(methods, r.Method) || r.Method == http.MethodHead && slices.Contains(methods, http.MethodGet) {
		return nil
	}
	return MethodNotAllowed(r.Method, methods...)
}

// As maps any error to an *Error: known errors of the codec, query, payload
// and store packages get their proper status; anything else is a 500 whose
// message does not leak internals (the error is logged).
func As(ctx context.Context, log *slog.Logger, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var qe *query.Error
	var pe *payload.Error
	var lim *feeds.LimitError
	var syn *feeds.SyntaxError
	var fe *feeds.FormatError
	switch {
	case errors.As(err, &pe):
		return Payload(pe.Path, "%s", pe.Message)
	case errors.As(err, &qe):
		return Errorf(http.StatusBadRequest, qe.Code, "%s", qe.Error())
	case errors.As(err, &lim):
		return Errorf(http.StatusRequestEntityTooLarge, CodeRequestEntityTooLarge, "%s", lim.Error())
	case errors.As(err, &syn):
		return Errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "malformed XML: %s", syn.Error())
	case errors.As(err, &fe):
		return Errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "%s", fe.Error())
	case errors.Is(err, store.ErrNotFound):
		return Errorf(http.StatusNotFound, CodeResourceNotFound, "resource not found")
	case errors.Is(err, store.ErrConflict):
		return Errorf(http.StatusConflict, CodeConflict, "%s", err.Error())
	case errors.Is(err, store.ErrPrecondition):
		return Errorf(http.StatusPreconditionFailed, CodePreconditionFailed, "the resource has changed: If-Match does not match its current ETag")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Diagnoses: []feeds.Diagnosis{{
			Severity: "transient", SDataCode: CodeApplicationDiagnosis, Message: "request cancelled or timed out"}}}
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return &Error{Status: http.StatusInternalServerError, Diagnoses: []feeds.Diagnosis{{
		Severity: "fatal", SDataCode: CodeApplicationDiagnosis, ApplicationCode: CodeInternal,
		Message: "internal server error; the request changed nothing it did not commit, see the server log"}}}
}

// Write writes e as an sdata:diagnoses document.
func Write(w http.ResponseWriter, e *Error) {
	var buf bytes.Buffer
	if err := feeds.WriteDiagnoses(&buf, e.Diagnoses); err != nil {
		http.Error(w, e.Error(), e.Status)
		return
	}
	if e.Allow != "" {
		w.Header().Set("Allow", e.Allow)
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(e.Status)
	w.Write(buf.Bytes())
}

// Level is the log level of a request that answered status.
func Level(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	if status >= 400 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
