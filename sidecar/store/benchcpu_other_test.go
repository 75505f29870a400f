//go:build !linux

package store

import (
	"time"

	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// cpuMeter is Linux only (it reads /proc); elsewhere the benchmark reports
// rows/s alone.
type cpuMeter struct{}

func newCPUMeter(*chtest.Server) (cpuMeter, bool) { return cpuMeter{}, false }
func (cpuMeter) self() time.Duration              { return 0 }
func (cpuMeter) server() time.Duration            { return 0 }
