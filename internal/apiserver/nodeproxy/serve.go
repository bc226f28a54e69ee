package nodeproxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/proxy"
)

// Serve forwards r to target on a node agent using transport and relays the
// answer. Ordinary responses are streamed and flushed after every read, so
// "logs -f" shows lines as they are written; the node request ends when the
// client goes away. Upgrade requests (exec, attach, port-forward over
// WebSocket or SPDY) are proxied through the upgrade and then spliced.
// The client's credentials are never forwarded: the node trusts the
// apiserver's own client certificate instead.
func Serve(w http.ResponseWriter, r *http.Request, target *url.URL, transport http.RoundTripper) {
	if target == nil || transport == nil {
		writeStatus(w, http.StatusInternalServerError, "no node location or transport")
		return
	}
	if httpstream.IsUpgradeRequest(r) {
		serveUpgrade(w, r, target, transport)
		return
	}
	serveStream(w, r, target, transport)
}

func serveUpgrade(w http.ResponseWriter, r *http.Request, target *url.URL, transport http.RoundTripper) {
	clone := r.Clone(r.Context())
	stripCredentials(clone.Header)
	h := proxy.NewUpgradeAwareHandler(target, transport, false, true, errorResponder{})
	h.UseLocationHost = true
	h.ServeHTTP(w, clone)
}

func serveStream(w http.ResponseWriter, r *http.Request, target *url.URL, transport http.RoundTripper) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), r.Body)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	if r.Body == nil || r.Body == http.NoBody {
		out.Body = nil
	}
	out.ContentLength = r.ContentLength
	copyHeader(out.Header, r.Header)
	stripCredentials(out.Header)
	appendForwardedFor(out.Header, r.RemoteAddr)

	resp, err := transport.RoundTrip(out)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client is gone; nobody to tell
		}
		// kube-apiserver reports an unreachable node with the client's
		// error text, e.g. `Get "https://node:10250/containerLogs/...": ...`.
		uerr := &url.Error{Op: methodName(r.Method), URL: target.String(), Err: err}
		writeStatus(w, http.StatusInternalServerError, uerr.Error())
		return
	}
	defer resp.Body.Close()

	copyHeader(w.Header(), resp.Header)
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	copyFlushing(w, resp.Body)
}

// copyFlushing copies body to w, flushing after each read so a slow,
// never-ending stream reaches the client line by line. It returns when the
// body ends, fails (also when the client's context is cancelled) or the
// client stops accepting writes.
func copyFlushing(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32*1024)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// skipHeaders are not relayed: hop-by-hop headers belong to one connection,
// the length is set from the body actually sent, and compression is left
// to each hop so streams are not buffered by an encoder.
var skipHeaders = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
	"Content-Length":      true,
	"Accept-Encoding":     true,
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if skipHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}

// stripCredentials removes what identifies the client to the apiserver.
func stripCredentials(h http.Header) {
	h.Del("Authorization")
	h.Del("Proxy-Authorization")
	for k := range h {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "Impersonate-") {
			delete(h, k)
		}
	}
}

func appendForwardedFor(h http.Header, remoteAddr string) {
	ip, _, err := net.SplitHostPort(remoteAddr)
	if err != nil || ip == "" {
		return
	}
	if prior := h.Get("X-Forwarded-For"); prior != "" {
		ip = prior + ", " + ip
	}
	h.Set("X-Forwarded-For", ip)
}

// methodName spells a method as Go's HTTP client does in its errors ("Get").
func methodName(m string) string {
	if m == "" {
		return "Get"
	}
	return m[:1] + strings.ToLower(m[1:])
}
