package proxy

// Registration is one tool's entry in the proxy's /list.
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
}
