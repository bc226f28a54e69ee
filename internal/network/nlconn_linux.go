//go:build linux

package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"unsafe"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nlConn is a bare netlink socket for the requests every pod's network
// makes. The netlink library costs several times the kernel's own work
// for them: a handle registers its socket with the runtime's poller,
// asks the kernel its port before each request, reads one datagram per
// system call and decodes every message into objects. nlConn sends
// several requests in one write, reads all that is pending in one
// recvmmsg (the kernel queues a dump's next part while the previous one
// is read) and hands messages to its caller as bytes.
//
// A socket belongs to the network namespace of the thread that opened
// it and may be used from any thread after. An nlConn serves one caller
// at a time.
type nlConn struct {
	fd  int
	seq uint32
}

// openNL opens a netlink socket of protocol proto in the calling thread's
// network namespace. It is blocking: the kernel answers a request while
// it is sent, so a read never waits long, and a socket outside the
// runtime's poller costs two system calls fewer.
func openNL(proto int) (*nlConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("opening a netlink socket: %w", err)
	}
	return &nlConn{fd: fd}, nil
}

func (c *nlConn) Close() error { return unix.Close(c.fd) }

// openNLAt opens a long-lived netlink socket in the namespace ns. Its
// reads give up after a while: a reply lost for good would otherwise
// hang every later user of the socket.
func openNLAt(ns netns.NsHandle, proto int) (*nlConn, error) {
	var c *nlConn
	err := onLockedThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("entering a network namespace: %w", err)
		}
		var err error
		c, err = openNL(proto)
		return err
	})
	if err != nil {
		return nil, err
	}
	tv := unix.Timeval{Sec: 10}
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		c.Close()
		return nil, fmt.Errorf("setting a netlink socket's timeout: %w", err)
	}
	return c, nil
}

// Netlink constants x/sys/unix lacks.
const (
	nlaTypeMask          = 0x3fff // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
	rtextFilterSkipStats = 1 << 3
	vethInfoPeer         = 1
	xdpAttachedNone      = 0
	rtaNHID              = 30
	tcaKind              = 1
	sizeofTcMsg          = 20
	sizeofFibRuleHdr     = 12
	nfnetlinkV0          = 0
)

// A read takes up to nlRecvSlots datagrams: a small dump's two parts, or
// a batch's errors and reply. The kernel fills up to 32 KiB per datagram
// for a reader that offers as much.
const (
	nlRecvSlots = 4
	nlRecvSize  = 32 << 10
)

// nlBatch builds requests into one buffer, sent in one write.
type nlBatch struct {
	b []byte
	// msg is where the message being built starts; first and last are
	// the sequence numbers of the batch's first and last requests.
	msg         int
	first, last uint32
	n           int
	// ack is set when the last request asks for an acknowledgement.
	ack bool
}

// begin starts a request of type typ with the fixed header fixed.
func (b *nlBatch) begin(c *nlConn, typ, flags uint16, fixed []byte) {
	c.seq++
	if b.n == 0 {
		b.first = c.seq
	}
	b.last, b.ack = c.seq, flags&unix.NLM_F_ACK != 0
	b.n++
	b.msg = len(b.b)
	var h [unix.SizeofNlMsghdr]byte
	ne := binary.NativeEndian
	ne.PutUint16(h[4:], typ)
	ne.PutUint16(h[6:], flags|unix.NLM_F_REQUEST)
	ne.PutUint32(h[8:], c.seq)
	b.b = append(b.b, h[:]...)
	b.b = append(b.b, fixed...)
	b.pad()
	b.end()
}

// end sets the length of the message being built; every append calls it.
func (b *nlBatch) end() {
	binary.NativeEndian.PutUint32(b.b[b.msg:], uint32(len(b.b)-b.msg))
}

func (b *nlBatch) pad() {
	for len(b.b)%unix.NLMSG_ALIGNTO != 0 {
		b.b = append(b.b, 0)
	}
}

// attr appends an attribute to the message being built.
func (b *nlBatch) attr(typ uint16, val []byte) {
	var h [unix.SizeofRtAttr]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(unix.SizeofRtAttr+len(val)))
	binary.NativeEndian.PutUint16(h[2:], typ)
	b.b = append(b.b, h[:]...)
	b.b = append(b.b, val...)
	b.pad()
	b.end()
}

func (b *nlBatch) u32(typ uint16, v uint32) {
	var val [4]byte
	binary.NativeEndian.PutUint32(val[:], v)
	b.attr(typ, val[:])
}

// str appends a NUL-terminated string attribute.
func (b *nlBatch) str(typ uint16, s string) {
	b.attr(typ, append([]byte(s), 0))
}

// nest opens a nested attribute, closed by unnest with what it returns.
func (b *nlBatch) nest(typ uint16) int {
	at := len(b.b)
	b.attr(typ, nil)
	return at
}

func (b *nlBatch) unnest(at int) {
	binary.NativeEndian.PutUint16(b.b[at:], uint16(len(b.b)-at))
}

// raw appends bytes as they are, such as the header of a nested message.
func (b *nlBatch) raw(p []byte) {
	b.b = append(b.b, p...)
	b.pad()
	b.end()
}

// ifinfomsg is struct ifinfomsg.
func ifinfomsg(index int32, flags, change uint32) []byte {
	m := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(m[4:], uint32(index))
	binary.NativeEndian.PutUint32(m[8:], flags)
	binary.NativeEndian.PutUint32(m[12:], change)
	return m
}

// nlRecv holds the buffers one recvmmsg fills.
type nlRecv struct {
	bufs  [nlRecvSlots][nlRecvSize]byte
	iovs  [nlRecvSlots]unix.Iovec
	addrs [nlRecvSlots]unix.RawSockaddrNetlink
	hdrs  [nlRecvSlots]mmsghdr
}

// mmsghdr is struct mmsghdr, which x/sys/unix lacks; Go pads it as C
// does on every architecture.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

var nlRecvs = sync.Pool{New: func() any {
	r := new(nlRecv)
	for i := range r.hdrs {
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(nlRecvSize)
		r.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&r.addrs[i]))
		r.hdrs[i].hdr.Namelen = unix.SizeofSockaddrNetlink
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.SetIovlen(1)
	}
	return r
}}

// recv reads the datagrams pending, at least one, and returns how many.
func (c *nlConn) recv(r *nlRecv) (int, error) {
	for i := range r.hdrs {
		r.hdrs[i].hdr.Namelen = unix.SizeofSockaddrNetlink
		r.hdrs[i].hdr.Flags = 0
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&r.hdrs[0])),
			nlRecvSlots, unix.MSG_WAITFORONE, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		default:
			return 0, errno
		}
	}
}

// send writes the batch; the kernel handles its requests in order
// before the write returns.
func (c *nlConn) send(b *nlBatch) error {
	for {
		_, err := unix.Write(c.fd, b.b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sending a netlink request: %w", err)
		}
		return nil
	}
}

// errTruncated says a datagram did not fit a receive buffer.
var errTruncated = errors.New("netlink reply truncated")

// do sends the batch and reads until the last request is answered, so
// that request must ask for an acknowledgement or be a get. It returns
// the error of the first request that failed, if any; fn, when not nil,
// is given the other messages that answer the batch, in order.
func (c *nlConn) do(b *nlBatch, fn func(typ uint16, body []byte) error) error {
	if err := c.send(b); err != nil {
		return err
	}
	return c.read(b, false, fn)
}

// dump sends the batch, which holds one dump request, and gives fn the
// body of each message of the answer. The whole answer is read even
// after fn fails, so that the socket may serve another dump.
func (c *nlConn) dump(b *nlBatch, fn func(typ uint16, body []byte) error) error {
	if b.n != 1 {
		return fmt.Errorf("a netlink dump of %d requests", b.n)
	}
	if err := c.send(b); err != nil {
		return err
	}
	return c.read(b, true, fn)
}

// read takes messages answering b until the last request's answer is
// complete: its acknowledgement or error, a dump's end, or, for a
// request without acknowledgement, its reply.
func (c *nlConn) read(b *nlBatch, dump bool, fn func(typ uint16, body []byte) error) error {
	r := nlRecvs.Get().(*nlRecv)
	defer nlRecvs.Put(r)
	var first, fnErr error
	interrupted := false
	for {
		n, err := c.recv(r)
		if err != nil {
			return fmt.Errorf("reading a netlink reply: %w", err)
		}
		for i := 0; i < n; i++ {
			h := &r.hdrs[i]
			if h.hdr.Flags&unix.MSG_TRUNC != 0 {
				return errTruncated
			}
			// Only the kernel's answers count.
			if r.addrs[i].Pid != 0 {
				continue
			}
			data := r.bufs[i][:h.len]
			for len(data) >= unix.SizeofNlMsghdr {
				ne := binary.NativeEndian
				l := int(ne.Uint32(data))
				typ, flags, seq := ne.Uint16(data[4:]), ne.Uint16(data[6:]), ne.Uint32(data[8:])
				if l < unix.SizeofNlMsghdr || l > len(data) {
					return fmt.Errorf("malformed netlink message of %d bytes", l)
				}
				body := data[unix.SizeofNlMsghdr:l]
				data = data[min(nlmAlign(l), len(data)):]
				if int32(seq-b.first) < 0 || int32(b.last-seq) < 0 {
					// Left from an earlier request that was given up.
					continue
				}
				if flags&unix.NLM_F_DUMP_INTR != 0 {
					interrupted = true
				}
				last := seq == b.last
				switch typ {
				case unix.NLMSG_ERROR, unix.NLMSG_DONE:
					// Both may carry an error number; a bare end
					// ends the dump.
					if len(body) >= 4 {
						if errno := int32(ne.Uint32(body)); errno != 0 && first == nil {
							first = syscall.Errno(-errno)
						}
					}
					if last {
						switch {
						case first != nil:
							return first
						case interrupted:
							return unix.EINTR
						}
						return fnErr
					}
				case unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
				default:
					if fn != nil && fnErr == nil {
						fnErr = fn(typ, body)
					}
					if last && !dump && !b.ack && flags&unix.NLM_F_MULTI == 0 {
						if first != nil {
							return first
						}
						return fnErr
					}
				}
			}
		}
	}
}

func nlmAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// nlAttrs walks the attributes of a message or of a nested attribute.
type nlAttrs struct {
	b   []byte
	typ uint16
	val []byte
	bad bool
}

// next moves to the next attribute; a malformed one ends the walk and
// sets bad.
func (a *nlAttrs) next() bool {
	if len(a.b) < unix.SizeofRtAttr {
		a.bad = a.bad || len(a.b) != 0
		return false
	}
	l := int(binary.NativeEndian.Uint16(a.b))
	if l < unix.SizeofRtAttr || l > len(a.b) {
		a.bad = true
		return false
	}
	a.typ = binary.NativeEndian.Uint16(a.b[2:]) & nlaTypeMask
	a.val = a.b[unix.SizeofRtAttr:l]
	a.b = a.b[min(nlaAlign(l), len(a.b)):]
	return true
}

func nlaAlign(n int) int { return (n + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1) }

// u32 is the attribute's value as a number, or 0 when it is too short.
func (a *nlAttrs) u32() uint32 {
	if len(a.val) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(a.val)
}

// str is the attribute's value as a string, without its NUL.
func (a *nlAttrs) str() string {
	v := a.val
	for len(v) > 0 && v[len(v)-1] == 0 {
		v = v[:len(v)-1]
	}
	return string(v)
}
