// Package screenbench measures screen sharing on workloads a support
// session sees (typing, scrolling, moving a window, a video-like area,
// idle) on a 1920 × 1080 Xvfb, with a real peer in the same run: x11vnc
// serving the same display to TigerVNC's viewer (Tight), its bytes counted
// on a loopback proxy of the bench's own (Proxy). The bench is
// BenchmarkScreen1080p; the workloads are drawn by the program in
// ./workload; docs/screen-bench.md says how to run it and what it
// measured.
package screenbench
