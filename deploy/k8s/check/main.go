// Command check runs the shipped Kubernetes manifests without a cluster:
// it decodes shards.yaml and merge.yaml strictly as batch/v1 Jobs (an
// unknown or misspelt field is an error), then does what the Job controller
// and the kubelet would do with them: for every completion index it sets
// the container's environment (the completion-index field reference),
// expands $(VAR) in the arguments, maps each volume mount (and subPath) to
// a folder on this machine, and runs the image's entry point (the
// dcor-stream binary given by -bin) or its command (/bin/sh -c). The merged
// result must equal one run of the shard's arguments without -shard,
// -state and -checkpoint, byte for byte.
//
//	go run . -bin /path/to/dcor-stream -input ../../testdata/activations.arrow ../shards.yaml ../merge.yaml
//
// It is a separate module, so that the repository's own go.mod does not
// depend on the Kubernetes API.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const indexAnnotation = "metadata.annotations['batch.kubernetes.io/job-completion-index']"

func main() {
	bin := flag.String("bin", "", "the dcor-stream binary (the image's entry point)")
	input := flag.String("input", "", "a file to place on the volume at the input path the shards name")
	flag.Parse()
	if *bin == "" || *input == "" || flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: check -bin DCOR-STREAM -input FILE shards.yaml merge.yaml")
		os.Exit(2)
	}
	if err := run(*bin, *input, flag.Arg(0), flag.Arg(1)); err != nil {
		fmt.Fprintln(os.Stderr, "check: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("check: PASS")
}

func readJob(path string) (*batchv1.Job, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j batchv1.Job
	if err := yaml.UnmarshalStrict(b, &j); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if j.APIVersion != "batch/v1" || j.Kind != "Job" {
		return nil, fmt.Errorf("%s: %s %s, want batch/v1 Job", path, j.APIVersion, j.Kind)
	}
	if len(j.Spec.Template.Spec.Containers) != 1 {
		return nil, fmt.Errorf("%s: want one container", path)
	}
	return &j, nil
}

func run(bin, input, shardsPath, mergePath string) error {
	shards, err := readJob(shardsPath)
	if err != nil {
		return err
	}
	merge, err := readJob(mergePath)
	if err != nil {
		return err
	}
	sp := shards.Spec
	if sp.CompletionMode == nil || *sp.CompletionMode != batchv1.IndexedCompletion || sp.Completions == nil {
		return fmt.Errorf("%s: not an Indexed Job with completions", shardsPath)
	}
	n := int(*sp.Completions)
	if sp.Template.Spec.RestartPolicy != corev1.RestartPolicyNever && sp.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return fmt.Errorf("%s: restartPolicy %q", shardsPath, sp.Template.Spec.RestartPolicy)
	}
	root, err := os.MkdirTemp("", "k8s-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)

	// The volumes: one folder each.
	shardC := sp.Template.Spec.Containers[0]
	// Place the input where the shards read it: their last argument.
	inPath := shardC.Args[len(shardC.Args)-1]
	inHost, err := hostPath(root, shardC.VolumeMounts, inPath)
	if err != nil {
		return fmt.Errorf("%s: input %s: %w", shardsPath, inPath, err)
	}
	if err := copyFile(input, inHost); err != nil {
		return err
	}

	var single []string
	for i := 0; i < n; i++ {
		env, err := environment(shardC, i)
		if err != nil {
			return fmt.Errorf("%s: %w", shardsPath, err)
		}
		args, err := hostArgs(root, shardC, env)
		if err != nil {
			return fmt.Errorf("%s: %w", shardsPath, err)
		}
		if want := fmt.Sprintf("%d/%d", i, n); flagValue(args, "-shard") != want {
			return fmt.Errorf("%s: pod %d runs -shard %q, want %s", shardsPath, i, flagValue(args, "-shard"), want)
		}
		if len(shardC.Command) != 0 {
			return fmt.Errorf("%s: the shard container sets a command; the image's entry point is the binary", shardsPath)
		}
		if i == 0 {
			single = withoutFlags(args, "-shard", "-state", "-checkpoint", "-workers")
		}
		cmd := exec.Command(bin, args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("pod %d: %s %s: %w", i, bin, strings.Join(args, " "), err)
		}
	}
	fmt.Printf("check: ran the %d pods of %s\n", n, shardsPath)

	// The merge: command /bin/sh -c with dcor-stream on the PATH.
	mc := merge.Spec.Template.Spec.Containers[0]
	env, err := environment(mc, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", mergePath, err)
	}
	argv := append(append([]string{}, mc.Command...), mc.Args...)
	for k := range argv {
		argv[k] = expand(argv[k], env)
		argv[k], err = mapPaths(root, mc.VolumeMounts, argv[k])
		if err != nil {
			return err
		}
	}
	if len(argv) < 3 || argv[0] != "/bin/sh" || argv[1] != "-c" {
		return fmt.Errorf("%s: want command /bin/sh -c SCRIPT, got %q", mergePath, argv)
	}
	pathDir := filepath.Join(root, "bin")
	if err := os.MkdirAll(pathDir, 0o755); err != nil {
		return err
	}
	if err := os.Symlink(bin, filepath.Join(pathDir, "dcor-stream")); err != nil {
		return err
	}
	cmd := exec.Command("/bin/sh", argv[1:]...)
	cmd.Env = append(os.Environ(), "PATH="+pathDir+":/usr/bin:/bin")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %q: %w", mergePath, argv, err)
	}
	result, err := mapPaths(root, mc.VolumeMounts, "/out/result.json")
	if err != nil {
		return err
	}
	got, err := os.ReadFile(result)
	if err != nil {
		return fmt.Errorf("%s wrote no result: %w", mergePath, err)
	}
	// Shards and merge must share the run's folder.
	if st, _ := filepath.Glob(filepath.Join(filepath.Dir(result), "state-*.dcs")); len(st) != n {
		return fmt.Errorf("the merge's folder holds %d states, want %d", len(st), n)
	}
	if ck, _ := filepath.Glob(filepath.Join(filepath.Dir(result), "ckpt-*")); len(ck) != 0 {
		return fmt.Errorf("checkpoints left behind: %v", ck)
	}
	want, err := exec.Command(bin, append([]string{"-format", "json"}, single...)...).Output()
	if err != nil {
		return fmt.Errorf("one run %v: %w", single, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("merged result differs from one run:\n got %s\nwant %s", got, want)
	}
	fmt.Printf("check: merged result == one run (%s), to the bit: %.90s…\n", strings.Join(single, " "), got)
	return nil
}

// environment is the container's environment in pod index i.
func environment(c corev1.Container, i int) (map[string]string, error) {
	env := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(i)}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = expand(e.Value, env)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == indexAnnotation:
			env[e.Name] = strconv.Itoa(i)
		default:
			return nil, fmt.Errorf("env %s: a source this check does not know", e.Name)
		}
	}
	return env, nil
}

var varRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// expand replaces $(VAR) as the kubelet does: defined variables only; $$ is $.
func expand(s string, env map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

func hostArgs(root string, c corev1.Container, env map[string]string) ([]string, error) {
	out := make([]string, len(c.Args))
	for k, a := range c.Args {
		var err error
		if out[k], err = mapPaths(root, c.VolumeMounts, expand(a, env)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mapPaths replaces every absolute path under a mount point in s by the
// folder that stands for the volume (and subPath) on this machine.
func mapPaths(root string, mounts []corev1.VolumeMount, s string) (string, error) {
	fields := strings.Fields(s)
	for _, f := range fields {
		if !strings.HasPrefix(f, "/") || strings.HasPrefix(f, "/bin/") {
			continue
		}
		h, err := hostPath(root, mounts, f)
		if err != nil {
			return "", err
		}
		s = strings.ReplaceAll(s, f, h)
	}
	return s, nil
}

func hostPath(root string, mounts []corev1.VolumeMount, p string) (string, error) {
	best := -1
	for k, m := range mounts {
		if (p == m.MountPath || strings.HasPrefix(p, m.MountPath+"/")) && (best < 0 || len(m.MountPath) > len(mounts[best].MountPath)) {
			best = k
		}
	}
	if best < 0 {
		return "", fmt.Errorf("%s is on no volume mount: the pod could not keep it", p)
	}
	m := mounts[best]
	dir := filepath.Join(root, "volumes", m.Name, m.SubPath)
	if err := os.MkdirAll(dir, 0o755); err != nil { // the kubelet creates a missing subPath
		return "", err
	}
	return filepath.Join(dir, strings.TrimPrefix(p, m.MountPath)), nil
}

func flagValue(args []string, name string) string {
	for k := 0; k+1 < len(args); k++ {
		if args[k] == name {
			return args[k+1]
		}
	}
	return ""
}

func withoutFlags(args []string, names ...string) []string {
	var out []string
	for k := 0; k < len(args); k++ {
		drop := false
		for _, n := range names {
			if args[k] == n {
				drop = true
			}
		}
		if drop {
			k++
			continue
		}
		out = append(out, args[k])
	}
	return out
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return errors.Join(fmt.Errorf("placing the input"), err)
	}
	return nil
}
