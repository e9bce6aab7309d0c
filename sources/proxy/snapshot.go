package proxy

// Registration is one tool's entry in the proxy's /list: of all it holds,
// only what the plan needs. Status is at most 64 bytes (plus a "…" marking
// a cut one), and valid UTF-8; it may hold any other character.
type Registration struct {
	Status string `json:"status"`
}

// Snapshot is the complete proxy view of one cycle.
type Snapshot struct {
	// Proxy is the active proxy host read from the active-proxy file.
	Proxy string
	// Enabled is false when the active-proxy file is empty: registration
	// checking is switched off and Registrations is nil ("don't know",
	// never "nobody is registered").
	Enabled bool
	// Registrations is keyed by tool name.
	Registrations map[string]Registration
	// Dropped counts the registrations left out of Registrations because
	// their key is longer than any tool's name can be (255 bytes).
	Dropped int
}
