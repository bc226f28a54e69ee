package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Profile says what an image means on the host: what runs when the
// container gives no command (Command is the image's entrypoint, Args its
// default arguments) and which directories come first on PATH.
type Profile struct {
	// Image is a repository pattern (tag and digest are ignored). Without a
	// "/" it matches the last path segment ("busybox" matches
	// "docker.io/library/busybox:1.36"); with one, path.Match applies.
	Image   string            `json:"image"`
	Command []string          `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Path    []string          `json:"path,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// Requires lists the host programs the profile's command needs (names
	// looked up on Path and the default PATH, or absolute paths). A
	// container that would run the profile's command without them fails
	// with CreateContainerConfigError naming the missing program.
	Requires []string `json:"requires,omitempty"`
}

// profilesFile is the format of the user's profiles file (YAML or JSON).
type profilesFile struct {
	Profiles []Profile `json:"profiles"`
}

// profileTable holds user profiles ahead of the built-in ones.
type profileTable struct {
	profiles []Profile
}

// loadProfiles builds the table: user profiles from file (optional), then the
// built-ins. dataDir receives the busybox applet directory.
func loadProfiles(file, dataDir string) (*profileTable, error) {
	t := &profileTable{}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading image profiles: %w", err)
		}
		var pf profilesFile
		if err := yaml.Unmarshal(data, &pf); err != nil {
			return nil, fmt.Errorf("parsing image profiles %s: %w", file, err)
		}
		for i, p := range pf.Profiles {
			if p.Image == "" {
				return nil, fmt.Errorf("image profiles %s: profile %d has no image pattern", file, i)
			}
		}
		t.profiles = append(t.profiles, pf.Profiles...)
	}
	busybox := Profile{Image: "busybox", Args: []string{"sh"}}
	if dir, err := busyboxApplets(filepath.Join(dataDir, "profiles", "busybox", "bin")); err == nil {
		busybox.Path = []string{dir}
	}
	t.profiles = append(t.profiles,
		Profile{Image: "registry.k8s.io/pause", Command: []string{"/pause"}},
		Profile{Image: "k8s.gcr.io/pause", Command: []string{"/pause"}},
		busybox,
		Profile{Image: "bash", Args: []string{"bash"}},
		Profile{Image: "perl", Args: []string{"perl"}},
		Profile{Image: "python", Args: []string{"python3"}},
		redisProfile(filepath.Join(dataDir, "profiles", "redis")),
		rabbitmqProfile(filepath.Join(dataDir, "profiles", "rabbitmq")),
	)
	return t, nil
}

// lookup returns the first profile matching image.
func (t *profileTable) lookup(image string) (Profile, bool) {
	repo := repository(image)
	for _, p := range t.profiles {
		if matchImage(p.Image, repo) {
			return p, true
		}
	}
	return Profile{}, false
}

func matchImage(pattern, repo string) bool {
	if !strings.Contains(pattern, "/") {
		repo = repo[strings.LastIndexByte(repo, '/')+1:]
	}
	ok, err := path.Match(pattern, repo)
	return err == nil && ok
}

// repository strips the tag and digest from an image reference.
func repository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

// busyboxApplets fills dir with a symlink per busybox applet, so that the
// applets come before the host's tools on PATH as in the busybox image.
func busyboxApplets(dir string) (string, error) {
	bin, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("busybox not found: %w", err)
	}
	out, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return "", fmt.Errorf("listing busybox applets: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating busybox applet directory: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if strings.ContainsRune(applet, '/') {
			continue
		}
		link := filepath.Join(dir, applet)
		if target, err := os.Readlink(link); err == nil && target == bin {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(bin, link); err != nil {
			return "", fmt.Errorf("linking busybox applet %s: %w", applet, err)
		}
	}
	return dir, nil
}

// resolveArgv resolves a container's command line as a container runtime does
// with an image's entrypoint and default arguments.
func resolveArgv(command, args []string, p Profile, hasProfile bool, image, name string) ([]string, error) {
	switch {
	case len(command) > 0:
		return append(append([]string{}, command...), args...), nil
	case !hasProfile:
		return nil, fmt.Errorf("container %q has no command and image %q has no image profile on this node: "+
			"set command in the pod spec, or add a profile for the image (image pattern, command, args, path, env) "+
			"to the agent's image profiles file", name, image)
	}
	if prog, ok := missingProgram(p); !ok {
		return nil, fmt.Errorf("container %q: image %q runs %s on this node, which is not installed: "+
			"install it on the node or set command in the pod spec", name, image, prog)
	}
	switch {
	case len(args) > 0:
		return append(append([]string{}, p.Command...), args...), nil
	default:
		argv := append(append([]string{}, p.Command...), p.Args...)
		if len(argv) == 0 {
			return nil, fmt.Errorf("container %q has no command and the profile for image %q defines none", name, image)
		}
		return argv, nil
	}
}

// missingProgram reports the first of p.Requires not found on the host.
func missingProgram(p Profile) (string, bool) {
	dirs := append(append([]string{}, p.Path...), filepath.SplitList(defaultPath)...)
	for _, prog := range p.Requires {
		if !hostHasProgram(prog, dirs) {
			return prog, false
		}
	}
	return "", true
}

func hostHasProgram(prog string, dirs []string) bool {
	if strings.ContainsRune(prog, '/') {
		return isExecutable(prog)
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, prog)) {
			return true
		}
	}
	return false
}

func isExecutable(file string) bool {
	fi, err := os.Stat(file)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// The server profiles run their program under a small sh supervisor: it
// makes a directory of its own under stateBase for the server's files,
// forwards SIGTERM and SIGINT to the server, and removes the directory when
// the server exits, so nothing is shared between pods or left behind. $1 is
// stateBase; the rest is the container's arguments (the image's default
// command unless the pod gives args). The supervisor and the server (which
// inherits the descriptor) hold a lock on the directory's lock file while
// they live; a supervisor killed with SIGKILL cannot clean up, and the
// agent removes directories nobody holds (pruneProfileState).
const (
	superviseStart = `mkdir -p "$base" || exit 1
dir=$(mktemp -d "$base/` + profileStatePrefix + `XXXXXXXX") || exit 1
exec 9>"$dir/` + profileStateLock + `" && flock -n 9 || exit 1
pid=
helper=
on_signal() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; }
trap on_signal TERM INT
`
	superviseWait = `pid=$!
while :; do
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 127 ] && break
	kill -0 "$pid" 2>/dev/null || break
done
[ -n "$helper" ] && kill -TERM "$helper" 2>/dev/null
rm -rf "$dir"
exit "$rc"
`
	// As the redis image's entrypoint: leading options or a config file
	// mean redis-server; any other command runs as given. The server
	// serves on 6379 on every address, without protected mode or
	// persistence, its working directory private; the pod's own arguments
	// come last and so win.
	redisScript = `base=$1; shift
case "${1:-}" in -*|*.conf) set -- redis-server "$@" ;; esac
if [ "${1:-}" != redis-server ]; then exec "$@"; fi
shift
` + superviseStart + `case "${1:-}" in
*.conf) conf=$1; shift ;;
*) conf= ;;
esac
set -- --port 6379 --protected-mode no --save "" --appendonly no --dir "$dir" "$@"
if [ -n "$conf" ]; then set -- "$conf" "$@"; fi
redis-server "$@" &
` + superviseWait

	// As the rabbitmq image: rabbitmq-server in the foreground, logging to
	// stdout, with guest allowed from other hosts. Its database, logs and
	// Erlang cookie (in HOME) live in the private directory and the node
	// name is unique; RABBITMQ_* variables the pod sets win. The Erlang port
	// mapper is started here when none runs, so that it ends with the pod.
	rabbitmqScript = `base=$1; shift
if [ "${1:-}" != rabbitmq-server ]; then exec "$@"; fi
shift
` + superviseStart + `export HOME="$dir"
export RABBITMQ_MNESIA_BASE="${RABBITMQ_MNESIA_BASE:-$dir/mnesia}"
export RABBITMQ_LOG_BASE="${RABBITMQ_LOG_BASE:-$dir/log}"
export RABBITMQ_LOGS="${RABBITMQ_LOGS:--}"
export RABBITMQ_NODENAME="${RABBITMQ_NODENAME:-rabbit-${dir##*.}@localhost}"
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:--rabbit loopback_users []}"
if ! epmd -names >/dev/null 2>&1; then
	epmd &
	helper=$!
	n=0
	until epmd -names >/dev/null 2>&1 || [ "$n" -ge 50 ]; do sleep 0.1; n=$((n + 1)); done
fi
/usr/lib/rabbitmq/bin/rabbitmq-server "$@" &
` + superviseWait
)

// redisProfile runs Debian's redis-server for any redis image.
func redisProfile(stateBase string) Profile {
	return Profile{
		Image:    "redis",
		Command:  []string{"/bin/sh", "-c", redisScript, "redis", stateBase},
		Args:     []string{"redis-server"},
		Requires: []string{"redis-server", "flock"},
	}
}

// rabbitmqProfile runs Debian's rabbitmq-server for any rabbitmq image.
func rabbitmqProfile(stateBase string) Profile {
	return Profile{
		Image:    "rabbitmq",
		Command:  []string{"/bin/sh", "-c", rabbitmqScript, "rabbitmq", stateBase},
		Args:     []string{"rabbitmq-server"},
		Requires: []string{"/usr/lib/rabbitmq/bin/rabbitmq-server", "epmd", "flock"},
	}
}
