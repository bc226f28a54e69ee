package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/remotecommand"
	kubeletstream "k8s.io/kubelet/pkg/cri/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/batchlet/batchlet/internal/runtime"
)

// Streaming timeouts, kubelet's defaults.
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = remotecommandconsts.DefaultStreamCreationTimeout
)

// spdyProtocols are the SPDY subprotocols served, newest first. v5 exists
// only over WebSocket; a SPDY client offering it settles on v4.
var spdyProtocols = []string{
	remotecommandconsts.StreamProtocolV4Name,
	remotecommandconsts.StreamProtocolV3Name,
	remotecommandconsts.StreamProtocolV2Name,
	remotecommandconsts.StreamProtocolV1Name,
}

// WebSocket channels of the remote command protocol.
const (
	wsStdin = iota
	wsStdout
	wsStderr
	wsError
	wsResize
)

func (a *Agent) serveExec(w http.ResponseWriter, r *http.Request) {
	target, opts, ok := a.streamTarget(w, r)
	if !ok {
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "you must specify at least one command for the container", http.StatusBadRequest)
		return
	}
	if wsstream.IsWebSocketRequest(r) {
		serveWebSocket(w, r, opts, func(ctx context.Context, s runtime.Streams) *apierrors.StatusError {
			code, err := target.ctr.Exec(ctx, cmd, s)
			return execStatus(code, err)
		})
		return
	}
	kubeletstream.ServeExec(w, r, target, "", "", "", cmd, opts, streamIdleTimeout, streamCreationTimeout, spdyProtocols)
}

func (a *Agent) serveAttach(w http.ResponseWriter, r *http.Request) {
	target, opts, ok := a.streamTarget(w, r)
	if !ok {
		return
	}
	if wsstream.IsWebSocketRequest(r) {
		serveWebSocket(w, r, opts, func(ctx context.Context, s runtime.Streams) *apierrors.StatusError {
			return attachStatus(target.ctr.Attach(ctx, s))
		})
		return
	}
	kubeletstream.ServeAttach(w, r, target, "", "", "", opts, streamIdleTimeout, streamCreationTimeout, spdyProtocols)
}

// streamTarget finds the running container a request names.
func (a *Agent) streamTarget(w http.ResponseWriter, r *http.Request) (*interactiveTarget, *kubeletstream.Options, bool) {
	ns, name, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	opts, err := streamOptions(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, nil, false
	}
	pod, err := a.podLister.Pods(ns).Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			http.Error(w, fmt.Sprintf("pod %s/%s not found", ns, name), http.StatusNotFound)
			return nil, nil, false
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return nil, nil, false
	}
	var ctr runtime.Container
	if wk := a.worker(pod.UID); wk != nil {
		ctr = wk.runningContainer(container)
	}
	ia, ok := ctr.(runtime.Interactive)
	if !ok {
		http.Error(w, fmt.Sprintf("container not found (%q)", container), http.StatusNotFound)
		return nil, nil, false
	}
	return &interactiveTarget{ctr: ia}, opts, true
}

// streamOptions reads the stream flags; the apiserver sends "true" where
// kubelet's own callers send "1".
func streamOptions(q url.Values) (*kubeletstream.Options, error) {
	flag := func(k string) bool {
		b, err := strconv.ParseBool(q.Get(k))
		return err == nil && b
	}
	o := &kubeletstream.Options{Stdin: flag("stdin"), Stdout: flag("stdout"), Stderr: flag("stderr"), TTY: flag("tty")}
	if o.TTY {
		// A terminal merges stderr into stdout.
		o.Stderr = false
	}
	if !o.Stdin && !o.Stdout && !o.Stderr {
		return nil, fmt.Errorf("you must specify at least 1 of stdin, stdout, stderr")
	}
	return o, nil
}

// interactiveTarget adapts a runtime container to kubelet's streaming
// server interfaces.
type interactiveTarget struct {
	ctr runtime.Interactive
}

func (t *interactiveTarget) ExecInContainer(ctx context.Context, _ string, _ types.UID, _ string, cmd []string,
	in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	code, err := t.ctr.Exec(ctx, cmd, runtimeStreams(ctx, in, out, errOut, tty, resize))
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

func (t *interactiveTarget) AttachContainer(ctx context.Context, _ string, _ types.UID, _ string,
	in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return t.ctr.Attach(ctx, runtimeStreams(ctx, in, out, errOut, tty, resize))
}

func runtimeStreams(ctx context.Context, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) runtime.Streams {
	s := runtime.Streams{TTY: tty}
	if in != nil {
		s.Stdin = in
	}
	if out != nil {
		s.Stdout = out
	}
	if errOut != nil {
		s.Stderr = errOut
	}
	if resize != nil {
		ch := make(chan runtime.TerminalSize)
		s.Resize = ch
		go func() {
			defer close(ch)
			for {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					select {
					case ch <- runtime.TerminalSize{Width: sz.Width, Height: sz.Height}:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return s
}

// serveWebSocket serves one session over the channel WebSocket protocols
// (v5 adds half-closing stdin; the framing is otherwise v4's).
func serveWebSocket(w http.ResponseWriter, r *http.Request, opts *kubeletstream.Options,
	run func(context.Context, runtime.Streams) *apierrors.StatusError) {
	channel := func(use bool, t wsstream.ChannelType) wsstream.ChannelType {
		if use {
			return t
		}
		return wsstream.IgnoreChannel
	}
	channels := []wsstream.ChannelType{
		wsStdin:  channel(opts.Stdin, wsstream.ReadChannel),
		wsStdout: channel(opts.Stdout, wsstream.WriteChannel),
		wsStderr: channel(opts.Stderr, wsstream.WriteChannel),
		wsError:  wsstream.WriteChannel,
		wsResize: wsstream.ReadChannel,
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		remotecommandconsts.StreamProtocolV5Name:        {Binary: true, Channels: channels},
		remotecommandconsts.StreamProtocolV4Name:        {Binary: true, Channels: channels},
		"v4." + wsstream.Base64ChannelWebSocketProtocol: {Binary: false, Channels: channels},
	})
	conn.SetIdleTimeout(streamIdleTimeout)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		return
	}
	defer conn.Close()
	// An empty message on the first writable channel tells the client the
	// session is established.
	switch {
	case opts.Stdout:
		_, _ = streams[wsStdout].Write(nil)
	case opts.Stderr:
		_, _ = streams[wsStderr].Write(nil)
	default:
		_, _ = streams[wsError].Write(nil)
	}
	ctx := r.Context()
	s := runtime.Streams{TTY: opts.TTY}
	if opts.Stdin {
		s.Stdin = streams[wsStdin]
	}
	if opts.Stdout {
		s.Stdout = streams[wsStdout]
	}
	if opts.Stderr {
		s.Stderr = streams[wsStderr]
	}
	if opts.TTY {
		s.Resize = decodeResize(ctx, streams[wsResize])
	}
	status := run(ctx, s)
	data, err := json.Marshal(status.Status())
	if err == nil {
		_, _ = streams[wsError].Write(data)
	}
}

// decodeResize turns the resize channel's JSON messages into sizes.
func decodeResize(ctx context.Context, r io.Reader) <-chan runtime.TerminalSize {
	ch := make(chan runtime.TerminalSize)
	go func() {
		defer close(ch)
		dec := json.NewDecoder(r)
		for {
			var sz remotecommand.TerminalSize
			if err := dec.Decode(&sz); err != nil {
				return
			}
			select {
			case ch <- runtime.TerminalSize{Width: sz.Width, Height: sz.Height}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// execStatus is the error channel's report of an exec, as kubelet makes it.
func execStatus(code int, err error) *apierrors.StatusError {
	switch {
	case err != nil:
		return apierrors.NewInternalError(fmt.Errorf("error executing command in container: %v", err))
	case code != 0:
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  remotecommandconsts.NonZeroExitCodeReason,
			Message: fmt.Sprintf("command terminated with non-zero exit code: command terminated with exit code %d", code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
				{Type: remotecommandconsts.ExitCodeCauseType, Message: strconv.Itoa(code)},
			}},
		}}
	default:
		return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusSuccess}}
	}
}

func attachStatus(err error) *apierrors.StatusError {
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("error attaching to container: %v", err))
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusSuccess}}
}
