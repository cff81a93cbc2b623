package sharing

import "testing"

// The lossy quality drops while the viewer is behind and climbs back
// once it keeps up, within its bounds.
func TestQualityFollowsTheViewer(t *testing.T) {
	q := newQuality()
	second := func(behind bool) {
		for range MaxFPS {
			q.tick(behind)
		}
	}
	for range 10 {
		second(true)
	}
	if q.quality != QualityLow {
		t.Fatalf("after 10 s behind: quality %d, want %d", q.quality, QualityLow)
	}
	second(false)
	if q.quality != QualityLow+qualityStep {
		t.Fatalf("after a second kept up: %d, want %d", q.quality, QualityLow+qualityStep)
	}
	for range 10 {
		second(false)
	}
	if q.quality != QualityHigh {
		t.Fatalf("after 10 s kept up: %d, want %d", q.quality, QualityHigh)
	}
	for range MaxFPS { // a third of the time behind: neither way
		q.tick(q.ticks%3 == 0)
	}
	if q.quality != QualityHigh {
		t.Fatalf("a little behind: %d, want it kept at %d", q.quality, QualityHigh)
	}
}
