package headless

// FilePolicy is the file_policy event's policy: what the agent accepts
// from the customer (transfer.Policy; package fileevent makes it).
type FilePolicy struct {
	Enabled            bool     `json:"enabled"`
	Extensions         []string `json:"extensions,omitempty"`
	ContentTypes       []string `json:"content_types,omitempty"`
	MaxSize            int64    `json:"max_size,omitempty"`  // bytes; left out: no limit
	MaxFiles           int      `json:"max_files,omitempty"` // per session; left out: no limit
	InvitationRequired bool     `json:"invitation_required,omitempty"`
	InvitationMs       int64    `json:"invitation_ms,omitempty"` // how long an invitation lasts
}
