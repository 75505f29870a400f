package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestK8sResourcesMatchSizing keeps the requests, limits, GOMEMLIMIT and
// disk of each overlay equal to the table "What deploy/k8s asks for" of
// docs/sizing.md, which derives them from the measured figures.
func TestK8sResourcesMatchSizing(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "sizing.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "## What deploy/k8s asks for")
	if !ok {
		t.Fatal("docs/sizing.md has no section \"What deploy/k8s asks for\"")
	}
	row := regexp.MustCompile("(?m)^\\| [^|]*`overlays/(\\w+)`[^|]*\\| (\\w+) \\| (\\w+) / (\\w+)(?:, (\\w+))? \\| ([^|]*)\\|")
	rows := row.FindAllStringSubmatch(table, -1)
	if len(rows) != 3 {
		t.Fatalf("%d overlay rows in docs/sizing.md's table, want edge, hub and grafana", len(rows))
	}
	for _, r := range rows {
		overlay, cpu, memReq, memLim, gomem, disk := r[1], r[2], r[3], r[4], r[5], r[6]
		t.Run(overlay, func(t *testing.T) {
			objs := buildOverlay(t, overlay)
			pod := podOf(t, objs)
			c := &pod.Containers[0]
			for i := range pod.InitContainers {
				if pod.InitContainers[i].Name == "ronda" {
					c = &pod.InitContainers[i]
				}
			}
			check := func(what, got, want string) {
				if got != want {
					t.Errorf("%s %s: manifest %q, docs/sizing.md %q", c.Name, what, got, want)
				}
			}
			check("cpu request", c.Resources.Requests.Cpu().String(), cpu)
			check("memory request", c.Resources.Requests.Memory().String(), memReq)
			check("memory limit", c.Resources.Limits.Memory().String(), memLim)
			var env string
			for _, e := range c.Env {
				if e.Name == "GOMEMLIMIT" {
					env = e.Value
				}
			}
			check("GOMEMLIMIT", env, gomem)
			size := regexp.MustCompile(`\b(\d+Gi)\b`).FindString(disk)
			var got string
			for _, v := range pod.Volumes {
				if v.Name == "data" && v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil {
					got = v.EmptyDir.SizeLimit.String()
				}
			}
			for _, o := range objs {
				if o.statefulSet != nil {
					for _, claim := range o.statefulSet.Spec.VolumeClaimTemplates {
						got = claim.Spec.Resources.Requests.Storage().String()
					}
				}
			}
			check("disk", got, size)
		})
	}
}
