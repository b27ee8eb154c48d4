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

	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/query"
	"sdatasync/sdata/store"
)

// The diagnosis codes of SData core 3.10: the only values an sdataCode
// takes. This provider's own codes go in applicationCode (see Kind).
const (
	CodeBadURLSyntax           = "BadUrlSyntax"
	CodeBadQueryParameter      = "BadQueryParameter"
	CodeApplicationNotFound    = "ApplicationNotFound"
	CodeApplicationUnavailable = "ApplicationUnavailable"
	CodeDatasetNotFound        = "DatasetNotFound"
	CodeDatasetUnavailable     = "DatasetUnavailable"
	CodeContractNotFound       = "ContractNotFound"
	CodeResourceKindNotFound   = "ResourceKindNotFound"
	CodeBadWhereSyntax         = "BadWhereSyntax"
	CodeApplicationDiagnosis   = "ApplicationDiagnosis"
)

// SpecCodes lists the sdataCode values of core 3.10.
func SpecCodes() []string {
	return []string{CodeBadURLSyntax, CodeBadQueryParameter, CodeApplicationNotFound, CodeApplicationUnavailable, CodeDatasetNotFound,
		CodeDatasetUnavailable, CodeContractNotFound, CodeResourceKindNotFound, CodeBadWhereSyntax, CodeApplicationDiagnosis}
}

// Kind is one kind of error this provider answers.
type Kind int

// The kinds of error. The table kinds maps each to its HTTP status, its
// sdataCode and its applicationCode.
const (
	NoSuchURL            Kind = iota // no resource or service at the URL
	BadURL                           // a URL that does not parse (selector, key)
	BadParameter                     // a query parameter out of its domain
	BadWhere                         // a where expression that does not parse or compile
	NoApplication                    // another application
	NoContract                       // another contract
	NoDataset                        // a dataset not served
	NoKind                           // a resource kind not in the contract
	NoResource                       // no resource with that key (or UUID)
	NoJob                            // no job with that tracking ID
	InvalidPayload                   // a payload that does not match the contract
	BadRequest                       // a body that is not the document expected (malformed XML, bad feed or digest)
	MethodNotAllowed                 // a method the URL does not serve
	UnsupportedMediaType             // a body that is not XML
	TooLarge                         // a body or batch over its limit
	PreconditionFailed               // an If-Match that does not match
	Conflict                         // a unique key or URL taken
	JobFailed                        // a job that failed
	Unavailable                      // a request cancelled or timed out
	Internal                         // a bug: nothing of it is told
	Unauthenticated                  // no credentials where a role is needed, or credentials that do not verify
	Forbidden                        // a principal without the role the route needs
	Throttled                        // too many failed authentications from a client or for a user
	numKinds
)

// kindInfo is one row of the table.
type kindInfo struct {
	status   int
	code     string // sdataCode (core 3.10)
	app      string // applicationCode ("" when the sdataCode says it all)
	severity string
}

// kinds is the one table of error kinds.
var kinds = [numKinds]kindInfo{
	NoSuchURL:            {http.StatusNotFound, CodeBadURLSyntax, "", "error"},
	BadURL:               {http.StatusBadRequest, CodeBadURLSyntax, "", "error"},
	BadParameter:         {http.StatusBadRequest, CodeBadQueryParameter, "", "error"},
	BadWhere:             {http.StatusBadRequest, CodeBadWhereSyntax, "", "error"},
	NoApplication:        {http.StatusNotFound, CodeApplicationNotFound, "", "error"},
	NoContract:           {http.StatusNotFound, CodeContractNotFound, "", "error"},
	NoDataset:            {http.StatusNotFound, CodeDatasetNotFound, "", "error"},
	NoKind:               {http.StatusNotFound, CodeResourceKindNotFound, "", "error"},
	NoResource:           {http.StatusNotFound, CodeApplicationDiagnosis, "ResourceNotFound", "error"},
	NoJob:                {http.StatusNotFound, CodeApplicationDiagnosis, "JobNotFound", "error"},
	InvalidPayload:       {http.StatusBadRequest, CodeApplicationDiagnosis, "InvalidPayload", "error"},
	BadRequest:           {http.StatusBadRequest, CodeApplicationDiagnosis, "BadRequest", "error"},
	MethodNotAllowed:     {http.StatusMethodNotAllowed, CodeApplicationDiagnosis, "MethodNotAllowed", "error"},
	UnsupportedMediaType: {http.StatusUnsupportedMediaType, CodeApplicationDiagnosis, "UnsupportedMediaType", "error"},
	TooLarge:             {http.StatusRequestEntityTooLarge, CodeApplicationDiagnosis, "RequestEntityTooLarge", "error"},
	PreconditionFailed:   {http.StatusPreconditionFailed, CodeApplicationDiagnosis, "PreconditionFailed", "error"},
	Conflict:             {http.StatusConflict, CodeApplicationDiagnosis, "Conflict", "error"},
	JobFailed:            {http.StatusInternalServerError, CodeApplicationDiagnosis, "JobFailed", "error"},
	Unavailable:          {http.StatusServiceUnavailable, CodeApplicationDiagnosis, "Unavailable", "transient"},
	Internal:             {http.StatusInternalServerError, CodeApplicationDiagnosis, "InternalServerError", "fatal"},
	Unauthenticated:      {http.StatusUnauthorized, CodeApplicationDiagnosis, "Unauthenticated", "error"},
	Forbidden:            {http.StatusForbidden, CodeApplicationDiagnosis, "Forbidden", "error"},
	Throttled:            {http.StatusTooManyRequests, CodeApplicationDiagnosis, "TooManyRequests", "transient"},
}

// Status is the HTTP status of errors of kind k.
func (k Kind) Status() int { return kinds[k].status }

// SDataCode is the sdataCode of errors of kind k.
func (k Kind) SDataCode() string { return kinds[k].code }

// AppCode is the applicationCode of errors of kind k ("" for none).
func (k Kind) AppCode() string { return kinds[k].app }

// Kinds lists every kind of error.
func Kinds() []Kind {
	out := make([]Kind, numKinds)
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}

// Error is an HTTP error with its SData diagnoses. Handlers return it; the
// router writes it as an sdata:diagnoses document.
type Error struct {
	Status    int
	Diagnoses []feeds.Diagnosis
	Allow     string // for 405: the Allow header
	Challenge string // for 401: the WWW-Authenticate header
	// RetryAfter, when > 0, is the Retry-After header in seconds (429, 503).
	RetryAfter int
}

// Error renders the status and the first diagnosis.
func (e *Error) Error() string {
	if len(e.Diagnoses) == 0 {
		return http.StatusText(e.Status)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Diagnoses[0].SDataCode, e.Diagnoses[0].Message)
}

// New builds an Error of kind k with one diagnosis.
func New(k Kind, format string, args ...any) *Error {
	ki := kinds[k]
	return &Error{Status: ki.status, Diagnoses: []feeds.Diagnosis{{
		Severity: ki.severity, SDataCode: ki.code, ApplicationCode: ki.app, Message: fmt.Sprintf(format, args...),
	}}}
}

// Payload is the InvalidPayload error of a payload that does not match the
// contract, at path.
func Payload(path, format string, args ...any) *Error {
	e := New(InvalidPayload, format, args...)
	e.Diagnoses[0].PayloadPath = path
	return e
}

// At sets the payloadPath of e's diagnoses (the element of the request
// body that is wrong) and returns e.
func At(e *Error, path string) *Error {
	for i := range e.Diagnoses {
		e.Diagnoses[i].PayloadPath = path
	}
	return e
}

// NotAllowed is the 405 for a method outside allowed (which the Allow
// header lists, in the order given).
func NotAllowed(method string, allowed ...string) *Error {
	e := New(MethodNotAllowed, "method %s is not allowed here; allowed: %s", method, strings.Join(allowed, ", "))
	e.Allow = strings.Join(allowed, ", ")
	return e
}

// Allow returns a 405 Error unless r's method is one of methods (HEAD goes
// where GET goes).
func Allow(r *http.Request, methods ...string) error {
	if slices.Contains(methods, r.Method) || r.Method == http.MethodHead && slices.Contains(methods, http.MethodGet) {
		return nil
	}
	return NotAllowed(r.Method, methods...)
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
	var ie *digest.InvalidError
	switch {
	case errors.As(err, &ie):
		// A digest or sync state that breaks a rule of the protocol.
		return At(New(BadRequest, "%s", ie.Error()), ie.Path)
	case errors.As(err, &pe):
		return Payload(pe.Path, "%s", pe.Message)
	case errors.As(err, &qe):
		if qe.Code == CodeBadWhereSyntax {
			return New(BadWhere, "%s", qe.Error())
		}
		return New(BadParameter, "%s", qe.Error())
	case errors.As(err, &lim) && lim.Limit == "MaxBytes":
		return New(TooLarge, "%s", lim.Error())
	case errors.As(err, &lim):
		// Nesting or entries beyond their limit: a bad document, not a big one.
		return New(BadRequest, "%s", lim.Error())
	case errors.As(err, &syn):
		return New(BadRequest, "malformed XML: %s", syn.Error())
	case errors.As(err, &fe):
		return At(New(BadRequest, "%s", fe.Error()), fe.Path)
	case errors.Is(err, store.ErrNotFound):
		return New(NoResource, "resource not found")
	case errors.Is(err, store.ErrConflict):
		return New(Conflict, "%s", err.Error())
	case errors.Is(err, store.ErrPrecondition):
		return New(PreconditionFailed, "the resource has changed: If-Match does not match its current ETag")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return New(Unavailable, "request cancelled or timed out")
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return New(Internal, "internal server error; the request changed nothing it did not commit, see the server log")
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
	if e.Challenge != "" {
		w.Header().Set("WWW-Authenticate", e.Challenge)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(e.Status)
	w.Write(buf.Bytes())
}

// Challenge is the WWW-Authenticate header of a 401: HTTP Basic (core
// 1.x: over TLS) or a bearer token.
const Challenge = `Basic realm="sdatasync", charset="UTF-8", Bearer realm="sdatasync"`

// Unauthorized is the 401 of a request without the credentials a route
// needs, or with credentials that do not verify (the same answer for an
// unknown user and a wrong password).
func Unauthorized() *Error {
	e := New(Unauthenticated, "authentication required: send HTTP Basic credentials (over TLS) or a bearer token")
	e.Challenge = Challenge
	return e
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
