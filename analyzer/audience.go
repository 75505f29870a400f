package analyzer

import (
	"fmt"
	"math"
	"time"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// DetAudience: viewers direct the host and pay right after; paid private
// rooms. Private rooms alone are a feature adults use (a DJ's VIP room), so
// alone they stay under strong.
const DetAudience = "audience"

// AudienceConfig: chat that directs the host, followed by gifts; paid private rooms.
type AudienceConfig struct {
	// GiftAfterDirective is how soon after a directive a gift from the same viewer
	// counts as paying for it. Default 5m.
	GiftAfterDirective time.Duration `yaml:"gift_after_directive"`
	// FullDirectedGifts is how many directed gifts count fully. Default 10.
	FullDirectedGifts int `yaml:"full_directed_gifts"`
	// FullPrivateShare is the share of heartbeats in paid private rooms that
	// counts fully. Default 0.2.
	FullPrivateShare float64 `yaml:"full_private_share"`
	// DirectedScore is what directed gifts count fully. Default 0.6: paying
	// for what one asked on camera is the indicator.
	DirectedScore float64 `yaml:"directed_score"`
	// PrivateScore is what paid private rooms count fully; PrivateHeartbeats
	// is how many heartbeats make the private share sure (a share over a
	// handful is noise). Defaults 0.45 (under strong alone: a DJ's VIP room)
	// and 24 (two hours of heartbeats).
	PrivateScore      float64 `yaml:"private_score"`
	PrivateHeartbeats int     `yaml:"private_heartbeats"`
	// DirectiveScore is what directives in chat, without gifts, count at
	// FullDirectives of them. Defaults 0.1 and 20.
	DirectiveScore float64 `yaml:"directive_score"`
	FullDirectives int     `yaml:"full_directives"`
}

func defaultAudienceConfig() AudienceConfig {
	return AudienceConfig{
		GiftAfterDirective: 5 * time.Minute, FullDirectedGifts: 10, FullPrivateShare: 0.2,
		DirectedScore: 0.6, PrivateScore: 0.45, PrivateHeartbeats: 24, DirectiveScore: 0.1, FullDirectives: 20,
	}
}

func (c AudienceConfig) validate(bad func(field, why string)) {
	if c.GiftAfterDirective <= 0 || c.FullDirectedGifts < 1 || c.FullPrivateShare <= 0 {
		bad("audience", "all values must be positive")
	}
	if !unit(c.DirectedScore) || !unit(c.PrivateScore) || !unit(c.DirectiveScore) || c.PrivateHeartbeats < 1 || c.FullDirectives < 1 {
		bad("audience", "directed_score, private_score and directive_score in [0,1], private_heartbeats and full_directives >= 1")
	}
}

// audienceEvidence: directives, the gifts that paid for them, private rooms.
type audienceEvidence struct {
	directed, directives uint32
	privateShare         float64
}

var audience = &familyOf[audienceEvidence]{
	Name: DetAudience,
	Role: roleExploitation,
	Score: func(e *Engine, h *hostState, ev *audienceEvidence, _ *hostEval) float64 {
		ac := e.cfg.Audience
		beats, priv := h.beats, h.privateBeats
		if s := e.streams[h.liveStream]; s != nil {
			beats += s.beats
			priv += s.private
		}
		ev.directed, ev.directives = h.directedGifts, h.directives
		if beats > 0 {
			ev.privateShare = float64(priv) / float64(beats)
		}
		sure := clamp01(float64(beats) / float64(ac.PrivateHeartbeats))
		s := ac.DirectedScore*clamp01(float64(ev.directed)/float64(ac.FullDirectedGifts)) +
			ac.PrivateScore*clamp01(ev.privateShare/ac.FullPrivateShare)*sure +
			ac.DirectiveScore*clamp01(float64(h.directives)/float64(ac.FullDirectives))
		return clamp01(s)
	},
	Explain: func(_ *Engine, _ *hostState, ev *audienceEvidence, n int, _ []*hostState) (string, map[string]any) {
		target := "the host"
		if n > 1 {
			target = fmt.Sprintf("%d hosts (figures for the most directed)", n)
		}
		return fmt.Sprintf("Viewers directed %s in chat %d times, followed within minutes by %d gifts from the same viewers; %d%% of heartbeats were in paid private rooms.",
				target, ev.directives, ev.directed, pct(ev.privateShare)),
			map[string]any{"directives": ev.directives, "directed_gifts": ev.directed, "private_share": round3(ev.privateShare)}
	},
	Save: func(_ *ckWriter, enc *snapshot.Enc, ev *audienceEvidence) {
		enc.Uvarint(uint64(ev.directed))
		enc.Uvarint(uint64(ev.directives))
		enc.F64(ev.privateShare)
	},
	Load: func(_ *ckReader, d *snapshot.Dec, ev *audienceEvidence) {
		ev.directed = uint32(d.Uint(math.MaxUint32, "directed gifts"))
		ev.directives = uint32(d.Uint(math.MaxUint32, "directives"))
		ev.privateShare = d.F64()
	},
}
