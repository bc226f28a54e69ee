package proxy

import (
	"io"
	"net"
	"testing"
	"time"
)

// sinkServer reads and discards everything, then closes.
func sinkServer(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return l.Addr().String()
}

func benchThroughput(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64*1024)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThroughputDirect is the baseline for BenchmarkThroughputProxied.
func BenchmarkThroughputDirect(b *testing.B) {
	benchThroughput(b, sinkServer(b))
}

// BenchmarkThroughputProxied streams 64 KiB writes through the forwarder.
func BenchmarkThroughputProxied(b *testing.B) {
	addr, _ := startTCP(b, sinkServer(b))
	benchThroughput(b, addr)
}

func benchPingPong(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTripDirect is the baseline for BenchmarkRoundTripProxied.
func BenchmarkRoundTripDirect(b *testing.B) {
	benchPingPong(b, echoServer(b, ""))
}

// BenchmarkRoundTripProxied measures a 64-byte request/response through
// the forwarder on an established connection.
func BenchmarkRoundTripProxied(b *testing.B) {
	addr, _ := startTCP(b, echoServer(b, ""))
	benchPingPong(b, addr)
}

// BenchmarkConnectProxied measures connection setup through the
// forwarder (accept, dial the endpoint, first byte back).
func BenchmarkConnectProxied(b *testing.B) {
	addr, _ := startTCP(b, echoServer(b, ""))
	buf := make([]byte, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
