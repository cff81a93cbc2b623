package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// HelloTimeout bounds the hello exchange on a new peer connection.
var HelloTimeout = 5 * time.Second

// Link is an established peer connection with its control stream. One
// goroutine may call Recv; Send is safe from any goroutine and never drops:
// control data is small, and a peer that stops reading is cut off.
type Link struct {
	Conn   *quic.Conn
	Path   Path
	Remote *pb.Hello

	str  *quic.Stream
	r    *bufio.Reader
	wmu  sync.Mutex
	once sync.Once
}

// OpenLink (customer side) opens the control stream and exchanges hellos.
func OpenLink(ctx context.Context, conn *quic.Conn, path Path, hello *pb.Hello) (*Link, error) {
	ctx, cancel := context.WithTimeout(ctx, HelloTimeout)
	defer cancel()
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	l, err := sayHello(conn, path, str, hello)
	if err != nil {
		return nil, err
	}
	return l, l.readHello(ctx)
}

// sayHello makes the link on a control stream and sends the stream header
// and this side's hello. Both sides say hello before reading theirs, so that
// on a version mismatch each learns the other's version and can ask its user
// to update.
func sayHello(conn *quic.Conn, path Path, str *quic.Stream, hello *pb.Hello) (*Link, error) {
	l := &Link{Conn: conn, Path: path, str: str, r: bufio.NewReader(str)}
	if err := protocol.WriteHeader(str, protocol.StreamControl); err != nil {
		return nil, err
	}
	if err := l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Hello{Hello: hello}}); err != nil {
		return nil, err
	}
	return l, nil
}

// OpenAgentLink (customer side) is OpenLink on a connection Connect made,
// checked: the other side must say it is the agent. On any failure the
// connection is closed.
func OpenAgentLink(ctx context.Context, conn *quic.Conn, path Path, hello *pb.Hello) (*Link, error) {
	l, err := OpenLink(ctx, conn, path, hello)
	if err != nil {
		conn.CloseWithError(CodeProtocol, "hello failed")
		return nil, fmt.Errorf("hello: %w", err)
	}
	if l.Remote.Role != pb.Role_ROLE_AGENT {
		l.Close(CodeProtocol, "expected an agent")
		return nil, errors.New("the other side is not an agent")
	}
	return l, nil
}

// AcceptLink (agent side) accepts the control stream and exchanges hellos.
func AcceptLink(ctx context.Context, conn *quic.Conn, path Path, hello *pb.Hello) (*Link, error) {
	ctx, cancel := context.WithTimeout(ctx, HelloTimeout)
	defer cancel()
	str, err := conn.AcceptStream(ctx)
	if err != nil {
		return nil, err
	}
	l, err := sayHello(conn, path, str, hello)
	if err != nil {
		return nil, err
	}
	if err := l.readHello(ctx); err != nil {
		if errors.Is(err, protocol.ErrVersionMismatch) {
			time.AfterFunc(time.Second, func() { conn.CloseWithError(CodeProtocol, err.Error()) })
		}
		return nil, err
	}
	return l, nil
}

func (l *Link) readHello(ctx context.Context) error {
	dl, _ := ctx.Deadline()
	l.str.SetReadDeadline(dl)
	defer l.str.SetReadDeadline(time.Time{})
	if err := protocol.ReadHeaderKind(l.r, protocol.StreamControl); err != nil {
		return err
	}
	var m pb.PeerMsg
	if err := protocol.ReadFrame(l.r, &m, protocol.MaxControlFrame); err != nil {
		return err
	}
	h := m.GetHello()
	if h == nil {
		return fmt.Errorf("%w: expected hello", protocol.ErrInvalid)
	}
	if err := protocol.ValidatePeerMsg(&m); err != nil {
		return err
	}
	l.Remote = h
	return nil
}

// Send writes one message on the control stream.
func (l *Link) Send(m *pb.PeerMsg) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.str.SetWriteDeadline(time.Now().Add(PeerQUICConfig.MaxIdleTimeout))
	return protocol.WriteFrame(l.str, m, protocol.MaxControlFrame)
}

// Recv reads the next valid message. Messages of unknown kinds come back
// with a nil body; callers skip them.
func (l *Link) Recv() (*pb.PeerMsg, error) {
	var m pb.PeerMsg
	if err := protocol.ReadFrame(l.r, &m, protocol.MaxControlFrame); err != nil {
		return nil, err
	}
	if err := protocol.ValidatePeerMsg(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// RTT is the connection's smoothed round-trip time.
func (l *Link) RTT() time.Duration { return l.Conn.ConnectionStats().SmoothedRTT }

// Done is closed when the connection has ended.
func (l *Link) Done() <-chan struct{} { return l.Conn.Context().Done() }

// Close ends the connection with an application code.
func (l *Link) Close(code quic.ApplicationErrorCode, reason string) {
	l.once.Do(func() {
		l.str.CancelRead(quic.StreamErrorCode(code))
		l.str.Close()
		l.Conn.CloseWithError(code, reason)
	})
}
