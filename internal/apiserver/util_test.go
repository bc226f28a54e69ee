package apiserver

import (
	"bytes"
	"io"
)

func bytesReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(r) }
