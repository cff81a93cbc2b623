package screen

// EncodeTiles is Encode without looking for a scroll (tests compare).
func (e *Encoder) EncodeTiles(img *Image) []byte {
	e.noScroll = true
	defer func() { e.noScroll = false }()
	return e.Encode(img, nil)
}

// SetOneTileJPEGs makes e send a JPEG per lossy tile, not one per
// rectangle of them (benchmarks compare).
func (e *Encoder) SetOneTileJPEGs(on bool) { e.oneTileJPEGs = on }
