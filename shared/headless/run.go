package headless

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// Logger makes the apps' stderr logger for a level name.
func Logger(w io.Writer, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if level != "" {
		if err := lvl.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("log level %q: %w", level, err)
		}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

// DataDir is the app's default data folder: $XDG_DATA_HOME/NAME, or
// ~/.local/share/NAME.
func DataDir(name string) string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, name)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return name
	}
	return filepath.Join(home, ".local", "share", name)
}

// DownloadsDir is the default folder for received files: the user's
// downloads folder ($XDG_DOWNLOAD_DIR, else ~/Downloads) with a "Porthole"
// folder inside. Each session's files get a folder of their own in it.
func DownloadsDir() string {
	if d := os.Getenv("XDG_DOWNLOAD_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "Porthole")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "Porthole")
	}
	return filepath.Join(home, "Downloads", "Porthole")
}

// ReadSecretFile reads a password file (first line, without the newline).
func ReadSecretFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s, _, _ := strings.Cut(string(raw), "\n")
	s = strings.TrimRight(s, "\r")
	if s == "" {
		return "", errors.New("the password file is empty")
	}
	return s, nil
}

// SignalContext is cancelled by SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// OpenEvents is a desktop app's --events option: "" writes nowhere, "-"
// writes event lines to stdout, anything else appends them to that file.
// Call done when the app ends.
func OpenEvents(spec string, stdout io.Writer) (emit func(Event), done func(), err error) {
	switch spec {
	case "":
		return func(Event) {}, func() {}, nil
	case "-":
		return NewWriter(stdout).Emit, func() {}, nil
	}
	f, err := os.OpenFile(spec, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("events file: %w", err)
	}
	return NewWriter(f).Emit, func() { f.Close() }, nil
}
