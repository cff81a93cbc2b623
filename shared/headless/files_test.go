package headless

import (
	"encoding/json"
	"testing"
)

func TestFileCommandFields(t *testing.T) {
	var c Command
	if err := json.Unmarshal([]byte(`{"cmd":"receive_files","on":false,"path":"/p","decision":"accept","sender":"bob"}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.On == nil || *c.On || c.Path != "/p" || c.Decision != "accept" || c.Sender != "bob" {
		t.Fatalf("command %+v", c)
	}
}

func TestDownloadsDir(t *testing.T) {
	t.Setenv("XDG_DOWNLOAD_DIR", "/srv/dl")
	if d := DownloadsDir(); d != "/srv/dl/Porthole" {
		t.Fatalf("DownloadsDir with XDG_DOWNLOAD_DIR: %s", d)
	}
	t.Setenv("XDG_DOWNLOAD_DIR", "")
	t.Setenv("HOME", "/home/bob")
	if d := DownloadsDir(); d != "/home/bob/Downloads/Porthole" {
		t.Fatalf("DownloadsDir: %s", d)
	}
}
