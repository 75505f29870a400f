// Package image checks Ronda's container image without a container engine:
// the test builds the static binary, assembles the same image the Dockerfile
// describes with go-containerregistry into an OCI layout, and inspects it with
// skopeo. It must not need docker, podman or the network.
package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	caBundle = "/etc/ssl/certs/ca-certificates.crt"
	user     = "65532:65532"
)

// need finds a tool, skipping without it except under CI=true.
func need(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// dockerfile is what the Dockerfile's final stage says, read from the file so
// the offline image and the users' image cannot drift apart.
type dockerfile struct {
	user, workdir string
	entrypoint    []string
	cmd           []string
	env           []string
	expose        []string
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, then keep the instructions after the last FROM.
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var final []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			final = final[:0]
		}
		final = append(final, line)
	}
	if len(final) == 0 || final[0] != "FROM scratch" {
		t.Fatalf("final stage %q, want FROM scratch", final)
	}
	var d dockerfile
	for _, line := range final {
		instr, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		switch instr {
		case "USER":
			d.user = arg
		case "WORKDIR":
			d.workdir = arg
		case "EXPOSE":
			d.expose = strings.Fields(arg)
		case "ENV":
			d.env = append(d.env, strings.Fields(arg)...)
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(arg), &d.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT must be the exec (JSON) form, no shell: %v", err)
			}
		case "CMD":
			if err := json.Unmarshal([]byte(arg), &d.cmd); err != nil {
				t.Fatalf("CMD must be the exec (JSON) form, no shell: %v", err)
			}
		case "RUN":
			t.Fatalf("final stage runs %q: scratch has no shell", line)
		}
	}
	return d
}

// buildBinary builds ronda as the Dockerfile does: static, trimmed, stripped.
func buildBinary(t *testing.T) []byte {
	t.Helper()
	gobin := need(t, "go")
	out := filepath.Join(t.TempDir(), "ronda")
	cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "../../cmd/ronda")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type file struct {
	name     string
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// layerTar writes the one layer: directories, the CA bundle and the binary.
func layerTar(t *testing.T, files []file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: mtime, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImage(t *testing.T) {
	skopeo := need(t, "skopeo")
	d := readDockerfile(t)
	if d.user != user {
		t.Fatalf("Dockerfile USER %q, want %q", d.user, user)
	}
	bin := buildBinary(t)
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		t.Fatalf("CA bundle for the image: %v", err)
	}
	layerBytes := layerTar(t, []file{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "ronda", mode: 0o755, data: bin},
		{name: "var/", mode: 0o755, dir: true},
		{name: "var/lib/", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(d.workdir, "/") + "/", mode: 0o755, uid: 65532, gid: 65532, dir: true},
	})
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	// OCI media types throughout: skopeo's oci: transport finds only OCI manifests.
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	ports := map[string]struct{}{}
	for _, p := range d.expose {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		ports[p] = struct{}{}
	}
	cf.Config = v1.Config{
		User:         d.user,
		Entrypoint:   d.entrypoint,
		Cmd:          d.cmd,
		Env:          d.env,
		ExposedPorts: ports,
		WorkingDir:   d.workdir,
		Volumes:      map[string]struct{}{d.workdir: {}},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	// A lower-case path: podman reads oci:DIR:ronda as a reference name too.
	ociDir, err := os.MkdirTemp("", "ronda-oci-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(ociDir) })
	dir := filepath.Join(ociDir, "oci")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": "ronda",
	})); err != nil {
		t.Fatal(err)
	}

	// What skopeo reads back from the layout, not what we meant to write.
	ref := "oci:" + dir + ":ronda"
	var conf struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Config       struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			Env          []string
			WorkingDir   string
			ExposedPorts map[string]struct{}
		} `json:"config"`
	}
	skopeoJSON(t, skopeo, &conf, "inspect", "--config", ref)
	c := conf.Config
	if c.User != "65532:65532" || strings.HasPrefix(c.User, "0") || c.User == "" {
		t.Errorf("user %q, want non-root 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/ronda"}) {
		t.Errorf("entrypoint %q, want [/ronda]", c.Entrypoint)
	}
	if !slices.Equal(c.Cmd, []string{"serve", "--config", "/etc/ronda/serve.yaml"}) {
		t.Errorf("cmd %q", c.Cmd)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 8080/tcp", c.ExposedPorts)
	}
	for _, want := range []string{"RONDA_STATE_DIR=/var/lib/ronda/state", "RONDA_SPOOL_DIR=/var/lib/ronda/spool", "XDG_CACHE_HOME=/var/lib/ronda"} {
		if !slices.Contains(c.Env, want) {
			t.Errorf("env %q lacks %s: the root filesystem is read-only, writes go to the volume", c.Env, want)
		}
	}
	if conf.OS != "linux" || conf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", conf.OS, conf.Architecture)
	}

	var man struct {
		Layers []string
	}
	skopeoJSON(t, skopeo, &man, "inspect", ref)
	if len(man.Layers) != 1 {
		t.Fatalf("layers %v, want exactly one", man.Layers)
	}
	algo, hex, _ := strings.Cut(man.Layers[0], ":")
	blob, err := os.Open(filepath.Join(dir, "blobs", algo, hex))
	if err != nil {
		t.Fatal(err)
	}
	defer blob.Close()
	zr, err := gzip.NewReader(blob)
	if err != nil {
		t.Fatalf("layer %s: %v", man.Layers[0], err)
	}
	tr := tar.NewReader(zr)
	var regular []string
	var binary []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if h.Name == "var/lib/ronda/" && (h.Uid != 65532 || h.Gid != 65532) {
				t.Errorf("%s owned by %d:%d, want the runtime user", h.Name, h.Uid, h.Gid)
			}
		case tar.TypeReg:
			regular = append(regular, h.Name)
			if h.Name == "ronda" {
				if h.Mode&0o777 != 0o755 {
					t.Errorf("/ronda mode %o, want 755", h.Mode)
				}
				if binary, err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
			}
		default:
			t.Errorf("layer entry %s of type %c: want only directories and files", h.Name, h.Typeflag)
		}
	}
	slices.Sort(regular)
	if want := []string{"etc/ssl/certs/ca-certificates.crt", "ronda"}; !slices.Equal(regular, want) {
		t.Errorf("files in the image %q, want only %q", regular, want)
	}

	// Static: no program interpreter and no shared libraries, so scratch runs it.
	ef, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		t.Fatalf("/ronda is not ELF: %v", err)
	}
	defer ef.Close()
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			t.Errorf("/ronda has %v: not statically linked", prog.Type)
		}
	}
	if libs, _ := ef.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("/ronda needs %v", libs)
	}

	// The binary taken out of the image runs with an empty environment, as in
	// scratch (no HOME, no zone database path).
	run := filepath.Join(t.TempDir(), "ronda")
	if err := os.WriteFile(run, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(run, "version")
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("/ronda version: %v\n%s", err, out)
	}

	t.Run("podman", func(t *testing.T) { runPodman(t, ref) })
}

// runPodman runs the image as a container: read-only root, the data volume
// mounted, and probes /readyz. The flags are what this kind of machine (a
// container itself, cgroups v1, no CAP_SYS_RESOURCE) needs: runc (crun
// refuses hybrid cgroups), limits no higher than ours, the host's network.
// Podman's storage lives in the test's temporary directory.
func runPodman(t *testing.T, ref string) {
	podman := need(t, "podman")
	need(t, "runc")
	if os.Getuid() != 0 {
		t.Skip("needs root: the volume is handed to the image's user 65532")
	}
	tmp := t.TempDir()
	vol := filepath.Join(tmp, "data")
	if err := os.Mkdir(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(vol, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := []string{"--root", filepath.Join(tmp, "root"), "--runroot", filepath.Join(tmp, "run"),
		"--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs"}
	name := "ronda-image-test-" + strconv.Itoa(os.Getpid())
	args := append(slices.Clone(base), "run", "-d", "--name", name, "--read-only",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", "--network", "host",
		"-e", "RONDA_LISTEN="+addr, "-v", vol+":/var/lib/ronda", ref, "serve", "--demo", "--listen", addr)
	if out, err := exec.Command(podman, args...).CombinedOutput(); err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command(podman, append(slices.Clone(base), "rm", "-f", "-t", "5", name)...).Run()
	})
	var body []byte
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			logs, _ := exec.Command(podman, append(slices.Clone(base), "logs", name)...).CombinedOutput()
			t.Fatalf("/readyz in the container never answered 200: %v %s\nlogs:\n%s", err, body, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !bytes.Contains(body, []byte(`"ready":true`)) {
		t.Errorf("/readyz: %s", body)
	}
	// With the root read-only, the state and spool can only be on the volume.
	for _, sub := range []string{"state", "spool"} {
		if _, err := os.Stat(filepath.Join(vol, sub)); err != nil {
			t.Errorf("%s not on the volume: %v", sub, err)
		}
	}
}

func skopeoJSON(t *testing.T, skopeo string, v any, args ...string) {
	t.Helper()
	out, err := exec.Command(skopeo, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("skopeo %s: %v\n%s", args[0], err, out)
	}
}
