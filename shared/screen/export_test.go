package screen

// EncodeTiles is Encode without looking for a scroll (tests compare).
func (e *Encoder) EncodeTiles(img *Image) []byte {
	e.noScroll = true
	defer func() { e.noScroll = false }()
	return e.Encode(img, nil)
}
