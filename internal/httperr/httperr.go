// Package httperr writes Gatehouse's one JSON error shape — {"error": "<code>",
// "message": "<sentence>"}, plus "retry_after" seconds with a Retry-After header when
// the client should come back — so that the gateway's answers and the portal's API read
// the same to scripts and apps.
package httperr

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Body is the JSON error shape.
type Body struct {
	Error      string `json:"error"`
	Message    string `json:"message"`
	RetryAfter int64  `json:"retry_after,omitempty"` // seconds
	// Permission names what a route required that the caller lacks ("deals:edit").
	Permission string `json:"permission,omitempty"`
}

// RetrySeconds rounds d up to whole seconds, at least 1.
func RetrySeconds(d time.Duration) int64 { return max(int64(math.Ceil(d.Seconds())), 1) }

// WriteJSON answers status with the error shape; retry > 0 also sets Retry-After.
func WriteJSON(w http.ResponseWriter, status int, code, message string, retry time.Duration) {
	Write(w, status, Body{Error: code, Message: message}, retry)
}

// Write answers status with b; retry > 0 also sets Retry-After.
func Write(w http.ResponseWriter, status int, b Body, retry time.Duration) {
	if retry > 0 {
		b.RetryAfter = RetrySeconds(retry)
		w.Header().Set("Retry-After", strconv.FormatInt(b.RetryAfter, 10))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
}
