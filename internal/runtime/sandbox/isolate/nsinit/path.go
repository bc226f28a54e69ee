package nsinit

// #include <stdlib.h>
// #include "nsinit.h"
import "C"

import "unsafe"

// goString frees s, a string the C helpers allocated, after copying it.
func goString(s *C.char) string {
	defer C.free(unsafe.Pointer(s))
	return C.GoString(s)
}

// cleanPath, dirPath and joinPath run the C path helpers, for the tests
// that hold them to path/filepath's results.
func cleanPath(p string) string {
	cp := C.CString(p)
	defer C.free(unsafe.Pointer(cp))
	return goString(C.nsinit_clean(cp))
}

func dirPath(p string) string {
	cp := C.CString(p)
	defer C.free(unsafe.Pointer(cp))
	return goString(C.nsinit_dir(cp))
}

func joinPath(a, b string) string {
	ca, cb := C.CString(a), C.CString(b)
	defer C.free(unsafe.Pointer(ca))
	defer C.free(unsafe.Pointer(cb))
	return goString(C.nsinit_join(ca, cb))
}
