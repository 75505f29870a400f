package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// grafanaFiles are the overlay's ConfigMap data, by ConfigMap name prefix
// and key, and the repository file each must equal.
var grafanaFiles = []struct{ configMap, key, source string }{
	{"ronda-grafana-datasources", "ronda-clickhouse.yaml", "deploy/grafana/provisioning/datasources/ronda-clickhouse.yaml"},
	{"ronda-grafana-dashboard-providers", "ronda.yaml", "deploy/grafana/provisioning/dashboards/ronda.yaml"},
	{"ronda-grafana-dashboards", "ronda.json", "dashboards/grafana/ronda.json"},
}

// grafanaDatasources is Grafana's data source provisioning file, decoded
// strictly (the fields deploy/grafana uses).
type grafanaDatasources struct {
	APIVersion  int `json:"apiVersion"`
	Datasources []struct {
		Name           string            `json:"name"`
		UID            string            `json:"uid"`
		Type           string            `json:"type"`
		JSONData       map[string]any    `json:"jsonData"`
		SecureJSONData map[string]string `json:"secureJsonData"`
	} `json:"datasources"`
}

// grafanaProviders is Grafana's dashboard provider provisioning file.
type grafanaProviders struct {
	APIVersion int `json:"apiVersion"`
	Providers  []struct {
		Name            string `json:"name"`
		Folder          string `json:"folder"`
		Type            string `json:"type"`
		DisableDeletion bool   `json:"disableDeletion"`
		AllowUIUpdates  bool   `json:"allowUiUpdates"`
		Options         struct {
			Path string `json:"path"`
		} `json:"options"`
	} `json:"providers"`
}

// TestK8sGrafana builds deploy/k8s/overlays/grafana and checks that Grafana
// is provisioned with the repository's own files: each generated ConfigMap
// holds exactly deploy/grafana's provisioning file or dashboards/grafana's
// dashboard; each is mounted where Grafana reads it (the dashboards where
// the provider's path says); every ${VAR} of the data source is set in the
// container, the password from a Secret; the dashboard's panels use the
// provisioned plugin; and the container is hardened.
func TestK8sGrafana(t *testing.T) {
	objs := buildOverlay(t, "grafana")
	pod := podOf(t, objs)
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want Grafana alone", len(pod.Containers))
	}
	c := &pod.Containers[0]

	// ConfigMap (by generated name) -> mount path.
	mounted := map[string]string{}
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				mounted[v.ConfigMap.Name] = m.MountPath
			}
		}
	}
	data := map[string]string{}    // key -> content
	mountOf := map[string]string{} // key -> where Grafana finds it
	for _, f := range grafanaFiles {
		var cm *corev1.ConfigMap
		for _, o := range objs {
			if o.configMap != nil && strings.HasPrefix(o.configMap.Name, f.configMap+"-") {
				cm = o.configMap
			}
		}
		if cm == nil {
			t.Fatalf("no ConfigMap %s-* in the overlay", f.configMap)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", f.source))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := cm.Data[f.key]; !ok || got != string(want) {
			t.Errorf("ConfigMap %s key %s differs from %s: refresh the overlay's copy (kustomization.yaml says how)", cm.Name, f.key, f.source)
		}
		data[f.key] = cm.Data[f.key]
		path, ok := mounted[cm.Name]
		if !ok {
			t.Errorf("ConfigMap %s is not mounted in Grafana", cm.Name)
		}
		mountOf[f.key] = path
	}
	if p := mountOf["ronda-clickhouse.yaml"]; p != "/etc/grafana/provisioning/datasources" {
		t.Errorf("data sources mounted at %s, Grafana reads /etc/grafana/provisioning/datasources", p)
	}
	if p := mountOf["ronda.yaml"]; p != "/etc/grafana/provisioning/dashboards" {
		t.Errorf("dashboard providers mounted at %s, Grafana reads /etc/grafana/provisioning/dashboards", p)
	}

	var ds grafanaDatasources
	if err := yaml.UnmarshalStrict([]byte(data["ronda-clickhouse.yaml"]), &ds); err != nil {
		t.Fatalf("data source file: %v", err)
	}
	var prov grafanaProviders
	if err := yaml.UnmarshalStrict([]byte(data["ronda.yaml"]), &prov); err != nil {
		t.Fatalf("dashboard provider file: %v", err)
	}
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || prov.APIVersion != 1 || len(prov.Providers) != 1 {
		t.Fatalf("provisioning files: %+v %+v", ds, prov)
	}
	if p := prov.Providers[0].Options.Path; p != mountOf["ronda.json"] {
		t.Errorf("the provider reads dashboards from %s, the dashboards ConfigMap is mounted at %s", p, mountOf["ronda.json"])
	}

	// Every ${VAR} of the data source is in the container's environment;
	// the password comes from a Secret, never a literal.
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	vars := regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(data["ronda-clickhouse.yaml"], -1)
	if len(vars) < 3 {
		t.Fatalf("the data source names %d variables, expected host, user and password", len(vars))
	}
	for _, v := range vars {
		e, ok := env[v[1]]
		if !ok {
			t.Errorf("the data source reads ${%s}, which the container does not set", v[1])
		}
		if strings.Contains(v[1], "PASSWORD") && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s is not taken from a Secret", v[1])
		}
	}
	if e := env["GF_SECURITY_ADMIN_PASSWORD"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Error("Grafana's admin password is not taken from a Secret")
	}
	if e := env["GF_INSTALL_PLUGINS"]; !strings.Contains(e.Value, ds.Datasources[0].Type) {
		t.Errorf("GF_INSTALL_PLUGINS=%q does not install the data source's plugin %s", e.Value, ds.Datasources[0].Type)
	}

	// The dashboard's panels query through the provisioned plugin.
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Datasource struct {
				Type string `json:"type"`
			} `json:"datasource"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(data["ronda.json"]), &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard without uid or panels")
	}
	for i, p := range dash.Panels {
		if p.Datasource.Type != ds.Datasources[0].Type {
			t.Errorf("panel %d uses data source type %q, provisioned is %q", i, p.Datasource.Type, ds.Datasources[0].Type)
		}
	}

	// Hardened like Ronda's containers, as Grafana's own user; the only
	// writable places are volumes.
	s := c.SecurityContext
	if s == nil || s.RunAsNonRoot == nil || !*s.RunAsNonRoot || s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem ||
		s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation || s.Capabilities == nil ||
		!slices.Equal(s.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("Grafana's securityContext is not hardened: %+v", s)
	}
	writable := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			writable[m.MountPath] = true
		}
	}
	for _, p := range []string{"/var/lib/grafana", "/tmp"} {
		if !writable[p] {
			t.Errorf("%s is not a writable volume (the root filesystem is read-only)", p)
		}
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("no memory request and limit")
	}
}
