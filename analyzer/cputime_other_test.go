//go:build !unix

package analyzer

func cpuTime() int64 { return 0 }
