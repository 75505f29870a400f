package hub

import "github.com/ronda-watch/ronda/analyzer"

// oldestUnclaimed is the age in seconds, by the hub's clock, of the oldest
// alert of severity sev that is open (not acknowledged, escalated or
// dismissed) and that no moderator holds a claim on; 0 when there is none.
// It is read at each scrape of ronda_hub_oldest_unclaimed_seconds.
func (h *Hub) oldestUnclaimed(sev analyzer.Severity) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.opts.Now()
	var oldest float64
	for _, st := range h.alerts {
		if st.status != statusOpen || st.alert.Severity != sev || st.holder(now) != "" {
			continue
		}
		oldest = max(oldest, now.Sub(st.since).Seconds())
	}
	return oldest
}
