package authn

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestInProcess(t *testing.T) {
	loopback := NewInProcess(UserInfo{Name: "system:batchlet-loopback", Groups: []string{"system:masters"}})
	other := NewInProcess(UserInfo{Name: "other"})
	var nilAuth *InProcess
	plain := httptest.NewRequest(http.MethodGet, "/api", nil)
	tests := []struct {
		name string
		auth *InProcess
		req  *http.Request
		want *UserInfo
	}{
		{name: "marked", auth: loopback, req: plain.WithContext(loopback.Mark(context.Background())),
			want: &UserInfo{Name: "system:batchlet-loopback", Groups: []string{"system:masters"}}},
		{name: "mark survives derived contexts", auth: loopback,
			req:  plain.WithContext(context.WithValue(loopback.Mark(context.Background()), struct{}{}, 1)),
			want: &UserInfo{Name: "system:batchlet-loopback", Groups: []string{"system:masters"}}},
		{name: "unmarked", auth: loopback, req: plain},
		{name: "another authenticator's mark", auth: loopback, req: plain.WithContext(other.Mark(context.Background()))},
		{name: "nil authenticator", auth: nilAuth, req: plain.WithContext(nilAuth.Mark(context.Background()))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok, err := tt.auth.Authenticate(tt.req)
			if err != nil || ok != (tt.want != nil) || (ok && !reflect.DeepEqual(u, tt.want)) {
				t.Fatalf("user %+v ok %v err %v, want %+v", u, ok, err, tt.want)
			}
		})
	}
	// Callers may keep and change what they got.
	r := plain.WithContext(loopback.Mark(context.Background()))
	u, _, _ := loopback.Authenticate(r)
	u.Groups[0] = "mutated"
	if u2, _, _ := loopback.Authenticate(r); u2.Groups[0] != "system:masters" {
		t.Fatalf("groups shared between calls: %v", u2.Groups)
	}
}

// TestInProcessUnreachableFromNetwork: over a real listener, with the
// in-process authenticator first in the union as the server wires it, no
// header a client can send gets the in-process identity.
func TestInProcessUnreachableFromNetwork(t *testing.T) {
	loopback := NewInProcess(UserInfo{Name: "system:batchlet-loopback", Groups: []string{"system:masters"}})
	a := Union(loopback, NewClientCertAuthenticator(), NewTokenAuthenticator(map[string]UserInfo{"t": {Name: "token-user"}}))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := a.Authenticate(r)
		if err != nil || !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(u)
	}))
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	for _, h := range []http.Header{
		{},
		{"Authorization": {"Bearer system:batchlet-loopback"}},
		{"Authorization": {"Bearer inproc"}},
		{"X-Remote-User": {"system:batchlet-loopback"}, "X-Remote-Group": {"system:masters"}},
		{"Impersonate-User": {"system:batchlet-loopback"}, "Impersonate-Group": {"system:masters"}},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
		req.Header = h
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("headers %v: status %d, want 401", h, resp.StatusCode)
		}
	}
	// The union still answers the credentials it knew before.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var u UserInfo
	err = json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()
	if err != nil || u.Name != "token-user" {
		t.Fatalf("token user through the union: %+v %v", u, err)
	}
}
