package store

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// cpuMeter reads the CPU time used so far by this process and by the
// server's, which it finds in /proc by its config path (Linux only; ok is
// false elsewhere). CPU time is what the machine's other load does not
// change much, unlike rows/s.
type cpuMeter struct{ serverStat string }

func newCPUMeter(s *chtest.Server) (m cpuMeter, ok bool) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(filepath.Join(s.Dir(), "config.xml"))) {
			return cpuMeter{serverStat: filepath.Join(filepath.Dir(p), "stat")}, true
		}
	}
	return m, false
}

// self is this process's CPU time; server the server's.
func (m cpuMeter) self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (m cpuMeter) server() time.Duration {
	b, err := os.ReadFile(m.serverStat)
	if err != nil {
		return 0
	}
	// Fields after the command name in parentheses; utime and stime are the
	// 14th and 15th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
