package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/ronda-watch/ronda/sidecar/replay"
)

// startProfiles starts a CPU profile and arranges a heap profile at the end of
// the replay (taken from replay's Done hook, while the engine's state is still
// live). The returned stop writes and closes them.
func startProfiles(cpuPath, memPath string, o *replay.Options) (stop func() error, err error) {
	var cpu *os.File
	if cpuPath != "" {
		if cpu, err = os.Create(cpuPath); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	var memErr error
	if memPath != "" {
		o.Done = func() {
			runtime.GC()
			f, err := os.Create(memPath)
			if err != nil {
				memErr = fmt.Errorf("heap profile: %w", err)
				return
			}
			memErr = errors.Join(pprof.WriteHeapProfile(f), f.Close())
		}
	}
	return func() error {
		var err error
		if cpu != nil {
			pprof.StopCPUProfile()
			err = cpu.Close()
		}
		return errors.Join(err, memErr)
	}, nil
}
