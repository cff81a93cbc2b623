module github.com/porthole-dev/porthole/agent

go 1.26.0

require github.com/porthole-dev/porthole/shared v0.0.0

replace github.com/porthole-dev/porthole/shared => ../shared
