package desktopui

import "sync"

// Sender sends what a window queues (chat lines) one at a time, in the
// order they were queued, on a goroutine of its own: the window never
// waits for the network, and a fast typist's lines never overtake each
// other. Both apps' bridges send their chat through one.
type Sender[T any] struct {
	send   func(T) error
	failed func(T, error)

	queue chan T
	stop  chan struct{}
	once  sync.Once
	done  chan struct{}
}

// NewSender starts a sender with room for queue items: send sends one
// (from the sender's goroutine), failed is told of each item send refused
// (from that goroutine too).
func NewSender[T any](queue int, send func(T) error, failed func(T, error)) *Sender[T] {
	s := &Sender[T]{send: send, failed: failed, queue: make(chan T, queue), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

// Push queues v; it reports false, queueing nothing, when the queue is
// full or the sender stopped.
func (s *Sender[T]) Push(v T) bool {
	select {
	case <-s.stop:
		return false
	default:
	}
	select {
	case s.queue <- v:
		return true
	default:
		return false
	}
}

// Stop takes no more items; what is queued still goes, in order (a chat
// line is stored before it is sent, so none is lost). It does not wait:
// Wait does.
func (s *Sender[T]) Stop() { s.once.Do(func() { close(s.stop) }) }

// Wait waits until the sender's goroutine has ended (after Stop).
func (s *Sender[T]) Wait() { <-s.done }

func (s *Sender[T]) run() {
	defer close(s.done)
	send := func(v T) {
		if err := s.send(v); err != nil && s.failed != nil {
			s.failed(v, err)
		}
	}
	for {
		select {
		case v := <-s.queue:
			send(v)
		case <-s.stop:
			for { // what was queued before Stop still goes
				select {
				case v := <-s.queue:
					send(v)
				default:
					return
				}
			}
		}
	}
}

// maxQuoted is how much of an unsent line NotSent quotes.
const maxQuoted = 500

// NotSent says that text was not sent and why, quoting it (its first 500
// characters), so the person can write it again.
func NotSent(text, why string) string {
	if r := []rune(text); len(r) > maxQuoted {
		text = string(r[:maxQuoted]) + "…"
	}
	return "This message was not sent (" + why + "):\n\n“" + text + "”"
}
