package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// k8sDir is deploy/k8s from this package.
var k8sDir = filepath.Join("..", "..", "deploy", "k8s")

// k8sOverlays are the kustomize overlays users build.
var k8sOverlays = []string{"edge", "hub"}

// k8sObject is one decoded manifest: exactly one of the typed fields, or the
// unstructured form for a custom resource.
type k8sObject struct {
	source      string
	kind        string
	namespace   *corev1.Namespace
	configMap   *corev1.ConfigMap
	secret      *corev1.Secret
	service     *corev1.Service
	deployment  *appsv1.Deployment
	statefulSet *appsv1.StatefulSet
	pdb         *policyv1.PodDisruptionBudget
	netpol      *networkingv1.NetworkPolicy
	custom      *unstructured.Unstructured
}

// customRequired lists, per custom resource, the fields it must have (its
// CRD is not vendored here, so these stand in for its schema).
var customRequired = map[string][][]string{
	"monitoring.coreos.com/v1/ServiceMonitor":           {{"spec", "selector"}, {"spec", "endpoints"}},
	"monitoring.coreos.com/v1/PrometheusRule":           {{"spec", "groups"}},
	"clickhouse.altinity.com/v1/ClickHouseInstallation": {{"spec", "configuration", "clusters"}},
}

// decodeK8s decodes every document of b strictly (an unknown or misspelt
// field is an error) into its k8s.io/api type.
func decodeK8s(source string, b []byte) ([]k8sObject, error) {
	var objs []k8sObject
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, fmt.Errorf("%s document %d: %w", source, i, err)
		}
		o := k8sObject{source: source, kind: head.APIVersion + "/" + head.Kind}
		var target any
		switch o.kind {
		case "v1/Namespace":
			o.namespace = new(corev1.Namespace)
			target = o.namespace
		case "v1/ConfigMap":
			o.configMap = new(corev1.ConfigMap)
			target = o.configMap
		case "v1/Secret":
			o.secret = new(corev1.Secret)
			target = o.secret
		case "v1/Service":
			o.service = new(corev1.Service)
			target = o.service
		case "apps/v1/Deployment":
			o.deployment = new(appsv1.Deployment)
			target = o.deployment
		case "apps/v1/StatefulSet":
			o.statefulSet = new(appsv1.StatefulSet)
			target = o.statefulSet
		case "policy/v1/PodDisruptionBudget":
			o.pdb = new(policyv1.PodDisruptionBudget)
			target = o.pdb
		case "networking.k8s.io/v1/NetworkPolicy":
			o.netpol = new(networkingv1.NetworkPolicy)
			target = o.netpol
		default:
			required, ok := customRequired[o.kind]
			if !ok {
				return nil, fmt.Errorf("%s document %d: unexpected kind %q", source, i, o.kind)
			}
			m := map[string]any{}
			if err := yaml.UnmarshalStrict([]byte(doc), &m); err != nil {
				return nil, fmt.Errorf("%s document %d: %w", source, i, err)
			}
			o.custom = &unstructured.Unstructured{Object: m}
			if o.custom.GetName() == "" {
				return nil, fmt.Errorf("%s document %d: %s without metadata.name", source, i, o.kind)
			}
			for _, path := range required {
				if _, found, err := unstructured.NestedFieldNoCopy(m, path...); !found || err != nil {
					return nil, fmt.Errorf("%s document %d: %s without %s", source, i, o.kind, strings.Join(path, "."))
				}
			}
			objs = append(objs, o)
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
			return nil, fmt.Errorf("%s document %d (%s): %w", source, i, o.kind, err)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// TestK8sDecodeStrict decodes every manifest of deploy/k8s strictly.
func TestK8sDecodeStrict(t *testing.T) {
	n := 0
	err := filepath.WalkDir(k8sDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		switch filepath.Base(path) {
		case "kustomization.yaml", "serve.yaml": // kustomize's and Ronda's, not manifests
			return nil
		}
		if filepath.Base(filepath.Dir(path)) == "provisioning" { // Grafana's (TestK8sGrafana)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		objs, err := decodeK8s(path, b)
		if err != nil {
			return err
		}
		if len(objs) == 0 {
			return fmt.Errorf("%s: no manifest", path)
		}
		n += len(objs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("decoded %d manifests, want the whole of deploy/k8s", n)
	}
}

// TestK8sDecodeRejectsUnknownField keeps the decoder strict: a misspelt
// field of a pod must be an error, or the test above proves nothing.
func TestK8sDecodeRejectsUnknownField(t *testing.T) {
	bad := "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec:\n  replica: 1\n"
	if _, err := decodeK8s("bad", []byte(bad)); err == nil {
		t.Fatal("a misspelt field decoded without an error")
	}
	if _, err := decodeK8s("bad", []byte("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec: {}\n")); err == nil {
		t.Fatal("a PrometheusRule without spec.groups decoded without an error")
	}
}

// kubectl returns the path of kubectl, skipping the test without it except
// under CI=true.
func kubectl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kubectl is required under CI=true (Debian package kubernetes-client): %v", err)
		}
		t.Skip("kubectl not installed (Debian package kubernetes-client)")
	}
	return p
}

// buildOverlay runs kubectl kustomize on an overlay and decodes the result.
func buildOverlay(t *testing.T, overlay string) []k8sObject {
	t.Helper()
	cmd := exec.Command(kubectl(t), "kustomize", filepath.Join(k8sDir, "overlays", overlay))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", overlay, err, stderr.String())
	}
	objs, err := decodeK8s("overlay "+overlay, out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// podOf returns the pod template of an overlay's workload.
func podOf(t *testing.T, objs []k8sObject) *corev1.PodSpec {
	t.Helper()
	for _, o := range objs {
		if o.deployment != nil {
			return &o.deployment.Spec.Template.Spec
		}
		if o.statefulSet != nil {
			return &o.statefulSet.Spec.Template.Spec
		}
	}
	t.Fatal("no Deployment or StatefulSet")
	return nil
}

// TestK8sOverlays builds each overlay and checks what the README promises of
// it: Ronda's container hardened and probed, a native sidecar at the ingest,
// the hub's state on a volume claim with a PodDisruptionBudget, secrets as
// files where the configuration names them, and that configuration accepted
// by ronda check-config --serve.
func TestK8sOverlays(t *testing.T) {
	for _, overlay := range k8sOverlays {
		t.Run(overlay, func(t *testing.T) {
			objs := buildOverlay(t, overlay)
			pod := podOf(t, objs)
			var ronda *corev1.Container
			switch overlay {
			case "edge":
				for i := range pod.InitContainers {
					if pod.InitContainers[i].Name == "ronda" {
						ronda = &pod.InitContainers[i]
					}
				}
				if ronda == nil || ronda.RestartPolicy == nil || *ronda.RestartPolicy != corev1.ContainerRestartPolicyAlways {
					t.Fatal("Ronda is not a native sidecar (an init container with restartPolicy Always)")
				}
				if len(pod.Containers) == 0 {
					t.Fatal("no ingest container beside the sidecar")
				}
			case "hub":
				ronda = &pod.Containers[0]
				var sts *appsv1.StatefulSet
				var pdb bool
				for _, o := range objs {
					if o.statefulSet != nil {
						sts = o.statefulSet
					}
					pdb = pdb || o.pdb != nil
				}
				if sts == nil || len(sts.Spec.VolumeClaimTemplates) == 0 {
					t.Fatal("the hub is not a StatefulSet with a volume claim")
				}
				if !pdb {
					t.Fatal("no PodDisruptionBudget for the hub")
				}
			}
			if !strings.Contains(strings.Join(ronda.Args, " "), "--role "+overlay) {
				t.Errorf("args %q do not set --role %s", ronda.Args, overlay)
			}
			checkHardened(t, ronda)
			if ronda.LivenessProbe == nil || ronda.LivenessProbe.HTTPGet == nil || ronda.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Error("no liveness probe on /healthz")
			}
			if ronda.ReadinessProbe == nil || ronda.ReadinessProbe.HTTPGet == nil || ronda.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Error("no readiness probe on /readyz")
			}
			if ronda.Resources.Requests.Memory().IsZero() || ronda.Resources.Limits.Memory().IsZero() {
				t.Error("no memory request and limit")
			}
			if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
				t.Error("the pod may run as root")
			}
			checkK8sServeConfig(t, objs, pod, ronda)
		})
	}
}

// checkHardened checks the container's securityContext.
func checkHardened(t *testing.T, c *corev1.Container) {
	t.Helper()
	s := c.SecurityContext
	switch {
	case s == nil:
		t.Fatal("no securityContext")
	case s.RunAsNonRoot == nil || !*s.RunAsNonRoot,
		s.RunAsUser == nil || *s.RunAsUser != 65532,
		s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem,
		s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation,
		s.Capabilities == nil || !reflect.DeepEqual(s.Capabilities.Drop, []corev1.Capability{"ALL"}),
		s.SeccompProfile == nil || s.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("securityContext not hardened: %+v", *s)
	}
}

// checkK8sServeConfig takes serve.yaml from the overlay's ConfigMap as the pod
// mounts it, runs ronda check-config --serve on it, and checks that every
// file it names (secrets, directories) lies on a volume of the container and
// every secret file is an item of the mounted Secret (a StatefulSet's
// volume claims count as volumes).
func checkK8sServeConfig(t *testing.T, objs []k8sObject, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	volumes := append([]corev1.Volume(nil), pod.Volumes...)
	for _, o := range objs {
		if o.statefulSet != nil {
			for _, claim := range o.statefulSet.Spec.VolumeClaimTemplates {
				volumes = append(volumes, corev1.Volume{Name: claim.Name})
			}
		}
	}
	mounts := map[string]corev1.Volume{} // mount path -> volume
	var configMap string
	for _, m := range c.VolumeMounts {
		for _, v := range volumes {
			if v.Name == m.Name {
				mounts[m.MountPath] = v
				if m.MountPath == "/etc/ronda/serve.yaml" && v.ConfigMap != nil {
					configMap = v.ConfigMap.Name
				}
			}
		}
	}
	var config string
	for _, o := range objs {
		if o.configMap != nil && o.configMap.Name == configMap {
			config = o.configMap.Data["serve.yaml"]
		}
	}
	if config == "" {
		t.Fatalf("no serve.yaml mounted at /etc/ronda/serve.yaml from a ConfigMap of the overlay")
	}
	file := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ronda(t), "check-config", "--serve", file)
	cmd.Env = append(os.Environ(), "RONDA_CLICKHOUSE_DSN=clickhouse://ronda:x@clickhouse-ronda:9000/ronda")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ronda check-config --serve: %v\n%s", err, out)
	}
	paths := regexp.MustCompile(`(?m)(?:file|dir|spool_dir|tokens_file|cert_file|key_file): *(/[^\s}]+)`).FindAllStringSubmatch(config, -1)
	if len(paths) < 3 {
		t.Fatalf("serve.yaml names %d files, expected its secrets and directories", len(paths))
	}
	for _, p := range paths {
		path := p[1]
		var vol *corev1.Volume
		for mp, v := range mounts {
			if strings.HasPrefix(path, mp+"/") {
				vol = &v
			}
		}
		if vol == nil {
			t.Errorf("serve.yaml names %s, on no volume of the container (the root filesystem is read-only)", path)
			continue
		}
		if vol.Secret != nil && len(vol.Secret.Items) > 0 {
			found := false
			for _, it := range vol.Secret.Items {
				found = found || strings.HasSuffix(path, "/"+it.Path)
			}
			if !found {
				t.Errorf("serve.yaml names %s, not an item of Secret %s", path, vol.Secret.SecretName)
			}
		}
	}
}

// TestK8sPrometheusRuleMatchesRuleFile keeps the PrometheusRule's groups
// equal to deploy/prometheus/ronda-rules.yml, which promtool checks.
func TestK8sPrometheusRuleMatchesRuleFile(t *testing.T) {
	read := func(path string) map[string]any {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := yaml.UnmarshalStrict(b, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return m
	}
	file := read(filepath.Join("..", "..", "deploy", "prometheus", "ronda-rules.yml"))
	rule := read(filepath.Join(k8sDir, "base", "prometheusrule.yaml"))
	spec, _ := rule["spec"].(map[string]any)
	if file["groups"] == nil || !reflect.DeepEqual(spec["groups"], file["groups"]) {
		t.Fatal("deploy/k8s/base/prometheusrule.yaml differs from deploy/prometheus/ronda-rules.yml: regenerate it (the command is in its header)")
	}
}
