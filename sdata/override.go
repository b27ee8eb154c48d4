package sdata

import (
	"net/http"
	"strings"

	"sdatasync/sdata/diag"
)

// MethodOverride is the header clients behind proxies that pass only GET
// and POST use to send the method they mean: POST with
// X-HTTP-Method-Override: GET, PUT or DELETE.
const MethodOverride = "X-HTTP-Method-Override"

// methodOverride turns a POST carrying X-HTTP-Method-Override into the
// request it stands for, before anything else looks at the method: routing,
// validation (and authorization) see the real method. The body of a POST
// standing for GET or DELETE is ignored (the JavaScript client sends an
// empty or text/plain one); a PUT keeps its body. Other values are refused.
func (s *Server) methodOverride(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get(MethodOverride)
		if v == "" || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		m := strings.ToUpper(strings.TrimSpace(v))
		switch m {
		case http.MethodGet, http.MethodDelete:
			// Their handlers read no body; the server discards it.
			r.Header.Del("Content-Type")
		case http.MethodPut:
		default:
			diag.Write(w, diag.New(diag.BadRequest,
				"%s %q is not supported: a POST may stand for GET, PUT or DELETE", MethodOverride, v))
			return
		}
		r.Method = m
		r.Header.Del(MethodOverride)
		next.ServeHTTP(w, r)
	})
}
