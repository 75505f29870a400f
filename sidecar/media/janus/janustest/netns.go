package janustest

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Janus gathers ICE candidates on every interface but loopback ones (its
// ice.c skips IFF_LOOPBACK), so on this machine its candidates would be the
// host's network addresses. A test that must not send a packet off the
// machine, nor to a non-loopback address, therefore runs inside a network
// namespace of its own: with lo, and a veth pair whose end Interface carries
// Address, a loopback-range address on an interface that is not loopback.
// Janus gathers only on Interface (its ice_enforce_list); pion's
// mediatest.LoopbackAPI(Interface) on lo and Interface. Every packet stays
// in that namespace, between loopback-range addresses.
const (
	// Interface is the namespace's veth end that Janus's candidates are on.
	Interface = "rtc0"
	// Address is Interface's address.
	Address = "127.0.0.2"
	// netnsEnv marks the test process running inside the namespace.
	netnsEnv = "JANUSTEST_NETNS"
)

// netnsSetup is run by sh inside the new namespace before the test binary.
const netnsSetup = `set -e
ip link set lo up
ip link add ` + Interface + ` type veth peer name rtc1
ip addr add ` + Address + `/32 dev ` + Interface + `
ip link set rtc1 up
ip link set ` + Interface + ` up
exec "$@"`

// InNetns reports whether this test process runs in the namespace that
// RunInNetns made.
func InNetns() bool { return os.Getenv(netnsEnv) == "1" }

// RunInNetns runs the test t again, alone, in this test binary inside a new
// network namespace (unshare(1) and ip(8) from util-linux and iproute2;
// root, or unprivileged user namespaces), passes its output to t's log and
// takes its verdict: a failure fails t, a skip skips it. Call it when
// !InNetns() and return after it.
func RunInNetns(t *testing.T) {
	t.Helper()
	Need(t)
	for _, bin := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("janustest: %s not found (CI=true)", bin)
			}
			t.Skipf("janustest: %s not found", bin)
		}
	}
	args := []string{"--net"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	args = append(args, "--", "sh", "-c", netnsSetup, "sh", os.Args[0],
		"-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=10m")
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("janustest: unshare: %v", err)
	}
	skipped, passed := false, false
	var lines []string
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		lines = append(lines, l)
		if strings.HasPrefix(l, "--- SKIP: "+t.Name()) {
			skipped = true
		}
		if strings.HasPrefix(l, "--- PASS: "+t.Name()) {
			passed = true
		}
	}
	werr := cmd.Wait()
	log := strings.Join(lines, "\n")
	switch {
	case werr != nil && len(lines) > 0 && strings.Contains(lines[0], "unshare failed"):
		if os.Getenv("CI") == "true" {
			t.Fatalf("janustest: cannot make a network namespace (CI=true): %s", log)
		}
		t.Skipf("janustest: cannot make a network namespace: %s", log)
	case werr != nil || !(passed || skipped):
		t.Fatalf("janustest: %s in its own network namespace: %v\n%s", t.Name(), werr, log)
	case skipped:
		t.Skipf("in its own network namespace:\n%s", log)
	default:
		t.Logf("in its own network namespace:\n%s", log)
	}
}
