package volumes

import "fmt"

// MountError is a volume that could not be set up; kubelet reports these
// as FailedMount events and keeps the pod waiting.
type MountError struct {
	Volume string
	Err    error
}

func (e *MountError) Error() string {
	return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", e.Volume, e.Err)
}

func (e *MountError) Unwrap() error { return e.Err }
