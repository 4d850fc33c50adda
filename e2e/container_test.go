package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// image is what docker/Dockerfile's final stage says about running the binary.
type image struct {
	user       string            // USER, e.g. 65532:65532
	env        map[string]string // ENV
	entrypoint []string
	cmd        []string
	volumes    []string
	expose     []string
	copies     [][2]string // COPY from the build stage or the context: source, destination
}

// finalStage reads docker/Dockerfile's last stage: the lines the test and the podman
// image follow, so that they check what users build.
func finalStage(t *testing.T) (image, []string) {
	t.Helper()
	b, err := os.ReadFile("../docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "FROM ") {
			lines = nil
		}
		lines = append(lines, l)
	}
	img := image{env: map[string]string{}}
	jsonList := func(s string) []string {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "[") {
			t.Fatalf("Dockerfile: %q is not in JSON form", s)
		}
		var out []string
		for _, p := range strings.Split(strings.Trim(s, "[]"), ",") {
			out = append(out, strings.Trim(strings.TrimSpace(p), `"`))
		}
		return out
	}
	for _, l := range lines {
		word, rest, _ := strings.Cut(l, " ")
		switch word {
		case "USER":
			img.user = rest
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				img.env[k] = v
			}
		case "ENTRYPOINT":
			img.entrypoint = jsonList(rest)
		case "CMD":
			img.cmd = jsonList(rest)
		case "VOLUME":
			img.volumes = jsonList(rest)
		case "EXPOSE":
			img.expose = strings.Fields(rest)
		case "COPY":
			f := strings.Fields(rest)
			img.copies = append(img.copies, [2]string{f[len(f)-2], f[len(f)-1]})
		}
	}
	return img, lines
}

// sandbox is a directory laid out like the image (the binary and the Caddyfile at
// their paths under root) and a data directory owned by the image's user.
type sandbox struct {
	root, data, outside string
	img                 image
	uid, gid            string
}

// sandboxScript makes every mount of a new, private mount namespace read-only except
// the data directory (bound onto itself first), then drops to the image's user with
// no capabilities and no way to gain privileges, and runs the command.
const sandboxScript = `set -eu
data=$1 uid=$2 gid=$3; shift 3
mount --bind "$data" "$data"
for mp in $(awk '{print $5}' /proc/self/mountinfo); do
	[ "$mp" = "$data" ] && continue
	mount -o remount,bind,ro "$mp" || { echo "sandbox: cannot make $mp read-only" >&2; exit 1; }
done
exec setpriv --reuid "$uid" --regid "$gid" --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"
`

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Need(t, "root, to unshare a mount namespace and switch to the image's user")
	}
	for _, tool := range []string{"unshare", "setpriv", "mount", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Need(t, tool+" (util-linux)")
		}
	}
	img, _ := finalStage(t)
	uid, gid, ok := strings.Cut(img.user, ":")
	if !ok || uid == "0" || strings.Trim(uid, "0123456789") != "" || strings.Trim(gid, "0123456789") != "" {
		t.Fatalf("Dockerfile USER %q: want a numeric non-root uid:gid", img.user)
	}
	// Not t.TempDir: its parents are 0700, and the image's user must reach the files.
	root, err := os.MkdirTemp("", "gatehouse-container-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	sb := &sandbox{root: root, data: filepath.Join(root, "data"), outside: filepath.Join(root, "outside"), img: img, uid: uid, gid: gid}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(root, 0o755))
	// The files the image copies in, at their paths, root-owned and read-only to the user.
	for _, c := range img.copies {
		src := ""
		switch {
		case strings.HasSuffix(c[0], "/gatehouse"):
			src = binary
		case strings.HasPrefix(c[0], "docker/"):
			src = "../" + c[0]
		default:
			continue // the empty /data directory: made below
		}
		dst := filepath.Join(root, c[1])
		must(os.MkdirAll(filepath.Dir(dst), 0o755))
		b, err := os.ReadFile(src)
		must(err)
		must(os.WriteFile(dst, b, 0o755))
		must(os.Chmod(dst, 0o755))
	}
	// The data volume and, for the proof, a directory the user owns outside it: only
	// the read-only mount keeps the user from writing there.
	for _, d := range []string{sb.data, sb.outside} {
		must(os.Mkdir(d, 0o700))
		must(exec.Command("chown", uid+":"+gid, d).Run())
	}
	return sb
}

// path maps a path inside the image (/data, or what the image copies in) to the
// sandbox; other paths stay as they are.
func (sb *sandbox) path(p string) string {
	if p == "/data" || strings.HasPrefix(p, "/data/") {
		return sb.data + strings.TrimPrefix(p, "/data")
	}
	for _, c := range sb.img.copies {
		if p == c[1] {
			return filepath.Join(sb.root, p)
		}
	}
	return p
}

// command runs args (image paths mapped) in the sandbox with the image's environment
// plus extra.
func (sb *sandbox) command(extra map[string]string, args ...string) *exec.Cmd {
	full := []string{"--mount", "--propagation", "private", "sh", "-c", sandboxScript, "sh", sb.data, sb.uid, sb.gid}
	for _, a := range args {
		full = append(full, sb.path(a))
	}
	cmd := exec.Command("unshare", full...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	for k, v := range sb.img.env {
		cmd.Env = append(cmd.Env, k+"="+sb.path(v))
	}
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// container is the sandboxed gateway process.
type container struct {
	*gateway
	exited chan struct{} // closed when the process has ended
}

func (c *container) hasExited() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// startContainer runs the image's ENTRYPOINT and CMD in the sandbox and waits until
// it serves or exits.
func (sb *sandbox) startContainer(t *testing.T, env map[string]string, port int) *container {
	t.Helper()
	g := &gateway{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: sb.data}
	g.cmd = sb.command(env, append(append([]string{}, sb.img.entrypoint...), sb.img.cmd...)...)
	return startLogged(t, g, g.url+"/public/")
}

// startLogged starts g.cmd, collects its output in g's log, and waits until probe
// answers or the process exits.
func startLogged(t *testing.T, g *gateway, probe string) *container {
	t.Helper()
	pr, pw := io.Pipe()
	g.cmd.Stdout, g.cmd.Stderr = pw, pw
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			g.mu.Lock()
			g.log.WriteString(sc.Text() + "\n")
			g.mu.Unlock()
		}
	}()
	c := &container{gateway: g, exited: make(chan struct{})}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.cmd.Wait(); pw.Close(); <-logged; close(c.exited) }()
	t.Cleanup(c.stop)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && !c.hasExited() {
		if resp, err := http.Get(probe); err == nil {
			resp.Body.Close()
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !c.hasExited() {
		t.Fatalf("%s did not come up; log:\n%s", g.cmd.Args, g.logs())
	}
	return c
}

func (c *container) stop() {
	if c.hasExited() {
		return
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// TestContainerReadOnlyNonRoot runs the built binary as docker/Dockerfile runs it —
// its USER (numeric, non-root, no capabilities, no new privileges), its ENV, its
// ENTRYPOINT and CMD with docker/Caddyfile — with every mount read-only except the
// data directory, as under `docker run --read-only -v data:/data`. First-run setup,
// a sign-in through the proxy and a restart work, the data persists, and neither the
// gateway nor anything else in the sandbox can write outside the data directory.
func TestContainerReadOnlyNonRoot(t *testing.T) {
	testenv.Short(t, "container sandbox")
	sb := newSandbox(t)

	// Outside the data directory nothing is writable, even a directory the user owns
	// and the world-writable /tmp; inside it is.
	for _, target := range []string{filepath.Join(sb.outside, "x"), "/tmp/gatehouse-container-probe"} {
		out, err := sb.command(nil, "touch", target).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Read-only file system") {
			t.Errorf("touch %s in the sandbox: %v %s; want Read-only file system", target, err, out)
		}
		os.Remove(target)
	}
	if out, err := sb.command(nil, "sh", "-c", "id -u; id -G; touch \"$1/probe\" && rm \"$1/probe\"", "sh", sb.data).CombinedOutput(); err != nil ||
		strings.Fields(string(out))[0] != sb.uid || strings.Fields(string(out))[1] != sb.gid {
		t.Fatalf("in the sandbox: %v\n%s; want uid %s, only group %s, /data writable", err, out, sb.uid, sb.gid)
	}

	up := newRecorder(t)
	port := freePort(t)
	env := map[string]string{
		"GATEHOUSE_LISTEN":   fmt.Sprintf(":%d", port),
		"GATEHOUSE_UPSTREAM": strings.TrimPrefix(up.URL, "http://"),
		"GATEHOUSE_BASE_URL": fmt.Sprintf("http://127.0.0.1:%d", port),
		// docker/Caddyfile's default store, /data/gatehouse.db, where the sandbox has
		// its data directory (the one path that differs from the image).
		"GATEHOUSE_STORE": "sqlite://" + sb.path("/data/gatehouse.db"),
	}

	// The gateway itself cannot put its store outside the data directory: it stops,
	// naming the read-only file system.
	bad := map[string]string{}
	for k, v := range env {
		bad[k] = v
	}
	bad["GATEHOUSE_STORE"] = "sqlite://" + filepath.Join(sb.outside, "gatehouse.db")
	g := sb.startContainer(t, bad, port)
	select {
	case <-g.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the gateway with its store outside the data directory keeps running; log:\n%s", g.logs())
	}
	if g.cmd.ProcessState.Success() || !strings.Contains(strings.ToLower(g.logs()), "read-only file system") {
		t.Fatalf("a store outside the data directory: exit %v; log:\n%s", g.cmd.ProcessState, g.logs())
	}
	if entries, _ := os.ReadDir(sb.outside); len(entries) != 0 {
		t.Fatalf("the gateway wrote outside the data directory: %v", entries)
	}

	// The image as users run it: the store, Caddy's state and the key in /data.
	g = sb.startContainer(t, env, port)
	if g.hasExited() {
		t.Fatalf("the sandboxed gateway exited: %v\n%s", g.cmd.ProcessState, g.logs())
	}
	link := g.setupURL()
	c := browser(t)
	_, body, _ := get(t, c, link)
	const email, password = "owner@example.com", "lantern quarry violet ninety"
	form := url.Values{"csrf": {csrfFrom(t, body)}, "token": {strings.SplitN(link, "token=", 2)[1]}, "email": {email},
		"name": {"Olive Owner"}, "password": {password}, "confirm": {password}}
	req, _ := http.NewRequest("POST", g.url+"/auth/setup", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if st, b, _ := do(t, c, req); st != http.StatusSeeOther {
		t.Fatalf("setup in the sandbox: %d %s\n%s", st, b, g.logs())
	}
	if st, b, _ := get(t, c, g.url+"/reports"); st != http.StatusOK || up.last(t).Get("X-Gatehouse-User-Email") != email {
		t.Fatalf("signed in through the proxy: %d %s", st, b)
	}
	for _, f := range []string{"gatehouse.db", "caddy/gatehouse/master.key"} {
		if _, err := os.Stat(filepath.Join(sb.data, f)); err != nil {
			t.Errorf("%s not in the data directory: %v", f, err)
		}
	}

	// Restart: the owner and the session survive, and signing in again works.
	g.stop()
	g = sb.startContainer(t, env, port)
	if g.hasExited() {
		t.Fatalf("the restarted gateway exited: %v\n%s", g.cmd.ProcessState, g.logs())
	}
	if st, _, _ := get(t, c, g.url+"/reports"); st != http.StatusOK || up.last(t).Get("X-Gatehouse-User-Email") != email {
		t.Fatalf("the session after a restart: %d", st)
	}
	c2 := browser(t)
	signInForm(t, c2, g.url, email, password, "/reports")
	if st, _, _ := get(t, c2, g.url+"/reports"); st != http.StatusOK {
		t.Fatalf("signing in after a restart: %d\n%s", st, g.logs())
	}
	if strings.Contains(g.logs(), "setup_url") {
		t.Error("a second setup link after a restart: the data did not persist")
	}
	if entries, _ := os.ReadDir(sb.outside); len(entries) != 0 {
		t.Errorf("something was written outside the data directory: %v", entries)
	}
}

// TestContainerImagePodman builds an image FROM scratch with Debian's podman from the
// locally built binary and docker/Dockerfile's own final-stage lines (the base image
// cannot be pulled here, so FROM and the build stage's paths are replaced, nothing
// else), and checks what the image declares: the numeric non-root user, the
// entrypoint and command, the /data volume, the environment and the port.
func TestContainerImagePodman(t *testing.T) {
	testenv.Short(t, "podman image build")
	if _, err := exec.LookPath("podman"); err != nil {
		testenv.Need(t, "podman (Debian package podman)")
	}
	img, lines := finalStage(t)
	ctxDir := t.TempDir()
	var cf []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "FROM "):
			l = "FROM scratch"
		case strings.HasPrefix(l, "COPY --from=build"):
			l = strings.Replace(strings.Replace(l, "--from=build ", "", 1), "/out/", "", 1)
		}
		cf = append(cf, l)
	}
	containerfile := strings.Join(cf, "\n") + "\n"
	t.Logf("Containerfile:\n%s", containerfile)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(ctxDir, "Containerfile"), []byte(containerfile), 0o644))
	b, err := os.ReadFile(binary)
	must(err)
	must(os.WriteFile(filepath.Join(ctxDir, "gatehouse"), b, 0o755))
	must(os.MkdirAll(filepath.Join(ctxDir, "data"), 0o755))
	must(os.MkdirAll(filepath.Join(ctxDir, "docker"), 0o755))
	caddyfile, err := os.ReadFile("../docker/Caddyfile")
	must(err)
	must(os.WriteFile(filepath.Join(ctxDir, "docker", "Caddyfile"), caddyfile, 0o644))

	// Private storage (vfs: no overlay mounts needed) and chroot isolation: no daemon,
	// no user namespaces, nothing shared with other podman users of the machine.
	store := t.TempDir()
	podman := func(args ...string) string {
		t.Helper()
		full := append([]string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}, args...)
		out, err := exec.Command("podman", full...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	const tag = "localhost/gatehouse-e2e:test"
	podman("build", "--isolation", "chroot", "-f", filepath.Join(ctxDir, "Containerfile"), "-t", tag, ctxDir)
	var inspected []struct {
		Config struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			Env          []string
			Volumes      map[string]any
			ExposedPorts map[string]any
		}
	}
	out := podman("image", "inspect", tag)
	must(json.Unmarshal([]byte(out), &inspected))
	if len(inspected) != 1 {
		t.Fatalf("podman image inspect: %s", out)
	}
	c := inspected[0].Config
	uid, _, _ := strings.Cut(c.User, ":")
	if c.User != img.user || uid == "" || uid == "0" || strings.Trim(c.User, "0123456789:") != "" {
		t.Errorf("image user %q; want the Dockerfile's numeric non-root %q", c.User, img.user)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/gatehouse"}) || !slices.Equal(c.Entrypoint, img.entrypoint) {
		t.Errorf("entrypoint %q, want [/usr/local/bin/gatehouse]", c.Entrypoint)
	}
	if !slices.Equal(c.Cmd, img.cmd) || !slices.Contains(c.Cmd, "/etc/gatehouse/Caddyfile") {
		t.Errorf("cmd %q, want %q", c.Cmd, img.cmd)
	}
	if _, ok := c.Volumes["/data"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("volumes %v, want only /data", c.Volumes)
	}
	for _, want := range []string{"XDG_DATA_HOME=/data", "XDG_CONFIG_HOME=/data/config", "HOME=/data"} {
		if !slices.Contains(c.Env, want) {
			t.Errorf("env %q lacks %s", c.Env, want)
		}
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 8080/tcp", c.ExposedPorts)
	}
}
