package analyzer

// Live reports whether streamID is live in the engine: started and not yet
// ended. The liveness pollers ask it before starting again a stream that was
// live before Ronda restarted (sidecar/poll, Options.Live).
func (e *Engine) Live(streamID string) bool {
	_, ok := e.streams[streamID]
	return ok
}
