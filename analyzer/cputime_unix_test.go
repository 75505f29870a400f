//go:build unix

package analyzer

import "syscall"

// cpuTime is the CPU time this process has used, user and system, in
// nanoseconds: on a shared machine it measures work where wall time also
// measures the neighbours.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
