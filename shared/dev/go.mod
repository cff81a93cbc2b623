module github.com/porthole-dev/porthole/shared/dev

go 1.26.0

require (
	github.com/jezek/xgb v1.3.1
	github.com/porthole-dev/porthole/shared v0.0.0
	github.com/quic-go/quic-go v0.65.0
	golang.org/x/sys v0.49.0
)

require (
	filippo.io/edwards25519 v1.1.0 // indirect
	github.com/schollz/pake/v3 v3.1.0 // indirect
	github.com/tscholl2/siec v0.0.0-20240310163802-c2c6f6198406 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/time v0.14.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/porthole-dev/porthole/shared => ../
