package transfer

import "fmt"

// noRoomError says a file does not fit on the disk.
type noRoomError struct{ need, free int64 }

func (e *noRoomError) Error() string {
	return fmt.Sprintf("the disk is full (the file needs %s, %s are free)", HumanSize(e.need), HumanSize(e.free))
}
