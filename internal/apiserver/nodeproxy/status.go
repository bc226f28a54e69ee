package nodeproxy

import (
	"encoding/json"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// writeStatus answers with a metav1.Status the way kube-apiserver reports a
// plain error: the given code, no reason, the error text as message.
func writeStatus(w http.ResponseWriter, code int, msg string) {
	status := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  msg,
		Code:     int32(code),
	}
	body, err := json.Marshal(status)
	if err != nil {
		http.Error(w, msg, code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// errorResponder reports upgrade failures (dialing the node, a refused
// upgrade) as a Status body.
type errorResponder struct{}

func (errorResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	writeStatus(w, http.StatusInternalServerError, err.Error())
}
