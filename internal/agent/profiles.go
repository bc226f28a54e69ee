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

// argv resolves a container's command line as a container runtime does
// with an image's entrypoint and default arguments.
func resolveArgv(command, args []string, p Profile, hasProfile bool, image, name string) ([]string, error) {
	switch {
	case len(command) > 0:
		return append(append([]string{}, command...), args...), nil
	case !hasProfile:
		return nil, fmt.Errorf("container %q has no command and image %q has no image profile on this node: "+
			"set command in the pod spec, or add a profile for the image (image pattern, command, args, path, env) "+
			"to the agent's image profiles file", name, image)
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
