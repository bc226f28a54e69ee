package isolate

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// The spec wire format, from the parent to the init step, is made to be
// parsed in place by the C init step (package nsinit): a sequence of
// fields, each ended by a NUL byte, in this order:
//
//	wireMagic
//	flags          decimal: wireNamespaces | wireTerminal
//	netns FD       decimal, 0 for none
//	hostname, scratch dir, netns path, command path, working dir
//	args           a decimal count, then that many fields
//	env            likewise
//	cgroup.procs   likewise
//	mounts         a decimal count, then source, target, "0" or "1"
//	               (read-only) for each
//	capabilities   only with wireCapabilities: the set in hexadecimal,
//	               1 to 16 lower-case digits
//
// Decimal numbers have 1 to 9 digits. Nothing may follow the last field.
//
// The format needs no compatibility across versions: the supervisor
// starts its init steps and fork server from its own binary
// (/proc/self/exe). Should they ever differ, an older decoder refuses
// wireCapabilities as an unknown flag, so a container whose capabilities
// are limited fails to start rather than run with all of them.
const (
	wireMagic        = "batchlet-init-1"
	wireNamespaces   = 1
	wireTerminal     = 2
	wireCapabilities = 4
	wireMaxDigits    = 9
	wireMaxHexDigits = 16
)

// encodeSpec writes is in the wire format.
func encodeSpec(is initSpec) ([]byte, error) {
	var b bytes.Buffer
	var bad string
	str := func(name, s string) {
		if bad == "" && strings.IndexByte(s, 0) >= 0 {
			bad = name
		}
		b.WriteString(s)
		b.WriteByte(0)
	}
	num := func(n int) { str("", strconv.Itoa(n)) }
	list := func(name string, l []string) {
		num(len(l))
		for _, s := range l {
			str(name, s)
		}
	}
	flags := 0
	if is.Namespaces {
		flags |= wireNamespaces
	}
	if is.Terminal {
		flags |= wireTerminal
	}
	if is.LimitCapabilities {
		flags |= wireCapabilities
	}
	if is.NetNSFD < 0 || len(strconv.Itoa(is.NetNSFD)) > wireMaxDigits {
		return nil, fmt.Errorf("sandbox: descriptor %d out of range", is.NetNSFD)
	}
	str("", wireMagic)
	num(flags)
	num(is.NetNSFD)
	str("hostname", is.Hostname)
	str("scratch directory", is.ScratchDir)
	str("network namespace path", is.NetNS)
	str("command path", is.Path)
	str("working directory", is.Dir)
	list("an argument", is.Args)
	list("an environment variable", is.Env)
	list("a cgroup.procs path", is.CgroupProcs)
	num(len(is.Mounts))
	for _, m := range is.Mounts {
		str("a mount source", m.Source)
		str("a mount target", m.Target)
		ro := "0"
		if m.ReadOnly {
			ro = "1"
		}
		str("", ro)
	}
	if is.LimitCapabilities {
		str("", strconv.FormatUint(is.Capabilities, 16))
	}
	if bad != "" {
		return nil, fmt.Errorf("sandbox: %s contains a NUL byte", bad)
	}
	return b.Bytes(), nil
}

// errWire is the detail of a malformed spec; the C init step reports the
// same texts.
type errWire string

func (e errWire) Error() string { return string(e) }

// wireDecoder reads fields in place; the first error sticks.
type wireDecoder struct {
	rest []byte
	err  error
}

func (d *wireDecoder) field() string {
	if d.err != nil {
		return ""
	}
	i := bytes.IndexByte(d.rest, 0)
	if i < 0 {
		d.err = errWire("truncated")
		return ""
	}
	f := string(d.rest[:i])
	d.rest = d.rest[i+1:]
	return f
}

func (d *wireDecoder) number() int {
	f := d.field()
	if d.err != nil {
		return 0
	}
	if len(f) == 0 || len(f) > wireMaxDigits || strings.Trim(f, "0123456789") != "" {
		d.err = errWire("bad number")
		return 0
	}
	n, _ := strconv.Atoi(f)
	return n
}

// hex reads a 64-bit set in hexadecimal.
func (d *wireDecoder) hex() uint64 {
	f := d.field()
	if d.err != nil {
		return 0
	}
	if len(f) == 0 || len(f) > wireMaxHexDigits || strings.Trim(f, "0123456789abcdef") != "" {
		d.err = errWire("bad capability set")
		return 0
	}
	n, _ := strconv.ParseUint(f, 16, 64)
	return n
}

// count reads a list's length, each element taking per fields of at
// least one byte.
func (d *wireDecoder) count(per int) int {
	n := d.number()
	if d.err == nil && n > len(d.rest)/per {
		d.err = errWire("truncated")
		return 0
	}
	return n
}

func (d *wireDecoder) list() []string {
	n := d.count(1)
	var l []string
	for i := 0; i < n && d.err == nil; i++ {
		l = append(l, d.field())
	}
	return l
}

// decodeSpec reads a spec in the wire format.
func decodeSpec(data []byte) (initSpec, error) {
	var is initSpec
	d := &wireDecoder{rest: data}
	if magic := d.field(); d.err == nil && magic != wireMagic {
		d.err = errWire("unknown format")
	}
	flags := d.number()
	if d.err == nil && flags&^(wireNamespaces|wireTerminal|wireCapabilities) != 0 {
		d.err = errWire("unknown flags")
	}
	is.Namespaces = flags&wireNamespaces != 0
	is.Terminal = flags&wireTerminal != 0
	is.LimitCapabilities = flags&wireCapabilities != 0
	is.NetNSFD = d.number()
	is.Hostname = d.field()
	is.ScratchDir = d.field()
	is.NetNS = d.field()
	is.Path = d.field()
	is.Dir = d.field()
	is.Args = d.list()
	is.Env = d.list()
	is.CgroupProcs = d.list()
	n := d.count(3)
	for i := 0; i < n && d.err == nil; i++ {
		m := Mount{Source: d.field(), Target: d.field()}
		switch d.field() {
		case "0":
		case "1":
			m.ReadOnly = true
		default:
			if d.err == nil {
				d.err = errWire("bad read-only flag")
			}
		}
		is.Mounts = append(is.Mounts, m)
	}
	if is.LimitCapabilities {
		is.Capabilities = d.hex()
	}
	if d.err == nil && len(d.rest) > 0 {
		d.err = errWire("trailing bytes")
	}
	if d.err != nil {
		return initSpec{}, fmt.Errorf("sandbox: decoding spec: %w", d.err)
	}
	return is, nil
}
