// Package deployments checks deployments/ without Docker or a cluster: every
// YAML file parses; the Kubernetes manifests are complete and consistent
// (references, selectors, probes, resources, PodDisruptionBudgets); the
// environment each compose service and each Kubernetes workload gets is
// accepted by the service's own configuration loader; the NATS configuration
// files load in nats-server and are the same in compose and Kubernetes; and
// the services run inside the per-service NATS permissions (permissions_test.go).
package deployments

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v3"

	"github.com/nsflow/nsflow/pkg/config"
)

var update = flag.Bool("update", false, "copy deployments/compose/nats/{nats,auth}.conf into the Kubernetes ConfigMap nats-config")

// root is the repository root (this package is test/deployments).
var root = filepath.Join("..", "..")

func deploymentsDir() string { return filepath.Join(root, "deployments") }

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, path string) []*yaml.Node {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(n.Content) == 0 || n.Content[0].Kind == 0 {
			continue
		}
		docs = append(docs, &n)
	}
	return docs
}

func TestEveryYAMLFileParses(t *testing.T) {
	n := 0
	err := filepath.WalkDir(deploymentsDir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yml" && ext != ".yaml" {
			return nil
		}
		n++
		if docs := yamlDocs(t, path); len(docs) == 0 {
			t.Errorf("%s: no YAML document", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("found %d YAML files under %s; the walk is broken", n, deploymentsDir())
	}
}

// ---------------------------------------------------------------- Kubernetes

type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name         string            `yaml:"name"`
		GenerateName string            `yaml:"generateName"`
		Labels       map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       yaml.Node         `yaml:"spec"`
	file       string
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type workloadSpec struct {
	Replicas    *int          `yaml:"replicas"`
	Selector    labelSelector `yaml:"selector"`
	ServiceName string        `yaml:"serviceName"`
	Template    podTemplate   `yaml:"template"`
}

type podTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		SecurityContext struct {
			RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		} `yaml:"securityContext"`
		Containers []containerSpec `yaml:"containers"`
		Volumes    []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type containerSpec struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	EnvFrom []struct {
		ConfigMapRef *struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name      string  `yaml:"name"`
		Value     *string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
			ConfigMapKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"configMapKeyRef"`
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
	Exec *struct {
		Command []string `yaml:"command"`
	} `yaml:"exec"`
}

type kustomization struct {
	Resources []string `yaml:"resources"`
	Patches   []struct {
		Path string `yaml:"path"`
	} `yaml:"patches"`
}

// bundle is what one `kubectl apply -k dir` applies (before kustomize's
// transformations): the resources of dir and of the bases it includes, with
// its patches merged into ConfigMaps and Secrets by name.
type bundle struct {
	dir     string
	objects []*object
}

func loadBundle(t *testing.T, dir string) bundle {
	t.Helper()
	var k kustomization
	docs := yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))
	if len(docs) != 1 {
		t.Fatalf("%s/kustomization.yaml: %d documents", dir, len(docs))
	}
	if err := docs[0].Decode(&k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	b := bundle{dir: dir}
	listed := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.Resources {
		p := filepath.Join(dir, r)
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s/kustomization.yaml: resource %s: %v", dir, r, err)
			continue
		}
		listed[r] = true
		if st.IsDir() {
			b.objects = append(b.objects, loadBundle(t, p).objects...)
			continue
		}
		b.objects = append(b.objects, loadObjects(t, p)...)
	}
	for _, p := range k.Patches {
		listed[p.Path] = true
		for _, patch := range loadObjects(t, filepath.Join(dir, p.Path)) {
			target := b.find(patch.Kind, patch.Metadata.Name)
			if target == nil {
				t.Errorf("%s: patch %s %s matches no resource", dir, patch.Kind, patch.Metadata.Name)
				continue
			}
			for k, v := range patch.Data {
				target.Data[k] = v
			}
			for k, v := range patch.StringData {
				target.StringData[k] = v
			}
		}
	}
	// Every manifest in the directory is applied: none is forgotten.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") && !listed[e.Name()] {
			t.Errorf("%s/%s is in no kustomization (resources or patches)", dir, e.Name())
		}
	}
	return b
}

func loadObjects(t *testing.T, path string) []*object {
	t.Helper()
	var out []*object
	for i, n := range yamlDocs(t, path) {
		o := &object{file: fmt.Sprintf("%s#%d", path, i)}
		if err := n.Decode(o); err != nil {
			t.Errorf("%s: %v", o.file, err)
			continue
		}
		if o.Metadata.Name == "" {
			o.Metadata.Name = o.Metadata.GenerateName
		}
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Errorf("%s: apiVersion, kind and metadata.name are required (got %q %q %q)", o.file, o.APIVersion, o.Kind, o.Metadata.Name)
		}
		if o.Data == nil {
			o.Data = map[string]string{}
		}
		if o.StringData == nil {
			o.StringData = map[string]string{}
		}
		out = append(out, o)
	}
	return out
}

func (b bundle) find(kind, name string) *object {
	for _, o := range b.objects {
		if o.Kind == kind && o.Metadata.Name == name {
			return o
		}
	}
	return nil
}

func (b bundle) ofKind(kinds ...string) []*object {
	var out []*object
	for _, o := range b.objects {
		if slices.Contains(kinds, o.Kind) {
			out = append(out, o)
		}
	}
	return out
}

func workload(t *testing.T, o *object) workloadSpec {
	t.Helper()
	var w workloadSpec
	if o.Kind == "Job" {
		var j struct {
			Template podTemplate `yaml:"template"`
		}
		if err := o.Spec.Decode(&j); err != nil {
			t.Fatalf("%s: %v", o.file, err)
		}
		w.Template = j.Template
		return w
	}
	if err := o.Spec.Decode(&w); err != nil {
		t.Fatalf("%s: %v", o.file, err)
	}
	return w
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

var k8sBundles = []string{"base", filepath.Join("overlays", "demo")}

func TestKubernetesManifests(t *testing.T) {
	for _, dir := range k8sBundles {
		t.Run(dir, func(t *testing.T) {
			b := loadBundle(t, filepath.Join(deploymentsDir(), "k8s", dir))
			seen := map[string]string{}
			for _, o := range b.objects {
				key := o.Kind + "/" + o.Metadata.Name
				if prev, dup := seen[key]; dup {
					t.Errorf("%s defined twice: %s and %s", key, prev, o.file)
				}
				seen[key] = o.file
			}
			workloads := b.ofKind("Deployment", "StatefulSet", "Job")
			if len(workloads) < 5 {
				t.Fatalf("%d workloads; want nats, extractor, transformer, loader, provision at least", len(workloads))
			}
			for _, o := range workloads {
				checkWorkload(t, b, o)
			}
			for _, pdb := range b.ofKind("PodDisruptionBudget") {
				var s struct {
					Selector labelSelector `yaml:"selector"`
				}
				if err := pdb.Spec.Decode(&s); err != nil {
					t.Fatal(err)
				}
				if !b.selects(t, s.Selector.MatchLabels) {
					t.Errorf("%s: PodDisruptionBudget %s selects no workload's pods", pdb.file, pdb.Metadata.Name)
				}
			}
			for _, svc := range b.ofKind("Service") {
				var s struct {
					Selector map[string]string `yaml:"selector"`
				}
				if err := svc.Spec.Decode(&s); err != nil {
					t.Fatal(err)
				}
				if !b.selects(t, s.Selector) {
					t.Errorf("%s: Service %s selects no workload's pods", svc.file, svc.Metadata.Name)
				}
			}
		})
	}
}

// selects reports whether selector matches the pod labels of a workload.
func (b bundle) selects(t *testing.T, selector map[string]string) bool {
	for _, o := range b.ofKind("Deployment", "StatefulSet") {
		if matches(selector, workload(t, o).Template.Metadata.Labels) {
			return true
		}
	}
	return false
}

func checkWorkload(t *testing.T, b bundle, o *object) {
	t.Helper()
	w := workload(t, o)
	name := o.Kind + " " + o.Metadata.Name
	if o.Kind != "Job" {
		if !matches(w.Selector.MatchLabels, w.Template.Metadata.Labels) {
			t.Errorf("%s: %s: selector %v does not match its pod labels %v", o.file, name, w.Selector.MatchLabels, w.Template.Metadata.Labels)
		}
		// Replicated workloads keep a quorum or capacity through drains.
		if w.Replicas != nil && *w.Replicas > 1 && !b.hasPDB(t, w.Template.Metadata.Labels) {
			t.Errorf("%s: %s has %d replicas and no PodDisruptionBudget", o.file, name, *w.Replicas)
		}
	}
	if rn := w.Template.Spec.SecurityContext.RunAsNonRoot; rn == nil || !*rn {
		t.Errorf("%s: %s: pod securityContext.runAsNonRoot must be true", o.file, name)
	}
	for _, v := range w.Template.Spec.Volumes {
		if v.ConfigMap != nil && b.find("ConfigMap", v.ConfigMap.Name) == nil {
			t.Errorf("%s: %s: volume %s: no ConfigMap %s", o.file, name, v.Name, v.ConfigMap.Name)
		}
	}
	for _, c := range w.Template.Spec.Containers {
		cname := name + "/" + c.Name
		for _, k := range []string{"cpu", "memory"} {
			if c.Resources.Requests[k] == "" || c.Resources.Limits[k] == "" {
				t.Errorf("%s: %s: resources.requests and limits need %s", o.file, cname, k)
			}
		}
		if ape := c.SecurityContext.AllowPrivilegeEscalation; ape == nil || *ape {
			t.Errorf("%s: %s: securityContext.allowPrivilegeEscalation must be false", o.file, cname)
		}
		if strings.HasSuffix(c.Image, ":latest") {
			t.Errorf("%s: %s: image %s: pin a tag", o.file, cname, c.Image)
		}
		if o.Kind != "Job" && (c.ReadinessProbe == nil || c.LivenessProbe == nil) {
			t.Errorf("%s: %s: needs readiness and liveness probes", o.file, cname)
		}
		if w.Template.Metadata.Labels["app.kubernetes.io/component"] == "stage" {
			checkStage(t, o, c)
		}
		b.env(t, o, c) // resolves every reference
	}
}

func (b bundle) hasPDB(t *testing.T, podLabels map[string]string) bool {
	for _, pdb := range b.ofKind("PodDisruptionBudget") {
		var s struct {
			Selector labelSelector `yaml:"selector"`
		}
		if err := pdb.Spec.Decode(&s); err != nil {
			t.Fatal(err)
		}
		if matches(s.Selector.MatchLabels, podLabels) {
			return true
		}
	}
	return false
}

// checkStage: a service container runs its binary and is probed on the ops
// port, /readyz for readiness and /healthz for liveness (pkg/ops).
func checkStage(t *testing.T, o *object, c containerSpec) {
	t.Helper()
	want := "/usr/local/bin/" + o.Metadata.Name
	if len(c.Command) != 1 || c.Command[0] != want {
		t.Errorf("%s: %s: command %v, want [%s]", o.file, o.Metadata.Name, c.Command, want)
	}
	opsPort := ""
	for _, p := range c.Ports {
		if p.ContainerPort == 9090 {
			opsPort = p.Name
		}
	}
	if opsPort == "" {
		t.Errorf("%s: %s: no containerPort 9090 (NSFLOW_OPS_ADDR)", o.file, o.Metadata.Name)
	}
	for _, pc := range []struct {
		p    *probe
		path string
	}{{c.ReadinessProbe, "/readyz"}, {c.LivenessProbe, "/healthz"}} {
		if pc.p == nil || pc.p.HTTPGet == nil || pc.p.HTTPGet.Path != pc.path || (fmt.Sprint(pc.p.HTTPGet.Port) != opsPort && fmt.Sprint(pc.p.HTTPGet.Port) != "9090") {
			t.Errorf("%s: %s: want an httpGet probe on %s at the ops port", o.file, o.Metadata.Name, pc.path)
		}
	}
}

// env resolves a container's environment as the kubelet would (envFrom
// first, then env), failing on dangling references. fieldRef values are
// stand-ins.
func (b bundle) env(t *testing.T, o *object, c containerSpec) map[string]string {
	t.Helper()
	env := map[string]string{}
	ref := func(kind, name string) *object {
		x := b.find(kind, name)
		if x == nil {
			t.Errorf("%s: %s/%s refers to %s %s, which %s does not define", o.file, o.Metadata.Name, c.Name, kind, name, b.dir)
		}
		return x
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			if x := ref("ConfigMap", ef.ConfigMapRef.Name); x != nil {
				for k, v := range x.Data {
					env[k] = v
				}
			}
		case ef.SecretRef != nil:
			if x := ref("Secret", ef.SecretRef.Name); x != nil {
				for k, v := range x.StringData {
					env[k] = v
				}
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.Value != nil:
			env[e.Name] = *e.Value
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			if x := ref("Secret", e.ValueFrom.SecretKeyRef.Name); x != nil {
				v, ok := x.StringData[e.ValueFrom.SecretKeyRef.Key]
				if !ok {
					t.Errorf("%s: %s: Secret %s has no key %s", o.file, e.Name, x.Metadata.Name, e.ValueFrom.SecretKeyRef.Key)
				}
				env[e.Name] = v
			}
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			if x := ref("ConfigMap", e.ValueFrom.ConfigMapKeyRef.Name); x != nil {
				env[e.Name] = x.Data[e.ValueFrom.ConfigMapKeyRef.Key]
			}
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			env[e.Name] = "pod-0"
		default:
			t.Errorf("%s: env %s has neither value nor a known valueFrom", o.file, e.Name)
		}
	}
	return env
}

func environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// serviceConfig is the typed configuration a container's process loads, by
// the binary it runs.
func serviceConfig(binary string) (interface{ Validate() error }, bool) {
	switch binary {
	case "extractor":
		return &config.Extractor{}, true
	case "transformer":
		return &config.Transformer{}, true
	case "loader":
		return &config.Loader{}, true
	case "provision": // `nsflow provision` loads the transformer's settings
		return &config.Transformer{}, true
	}
	return nil, false
}

// binaryOf names what a container runs: a service binary, or an nsflow
// subcommand.
func binaryOf(command, args []string) string {
	if len(command) > 0 && command[0] != "/usr/local/bin/nsflow" && command[0] != "nsflow" {
		return filepath.Base(command[0])
	}
	if len(args) > 0 {
		return args[0]
	}
	return ""
}

// TestKubernetesEnvironmentLoads loads each nsflow container's environment
// with the service's own configuration loader: every name must be known and
// every value valid.
func TestKubernetesEnvironmentLoads(t *testing.T) {
	for _, dir := range k8sBundles {
		b := loadBundle(t, filepath.Join(deploymentsDir(), "k8s", dir))
		loaded := 0
		for _, o := range b.ofKind("Deployment", "Job") {
			for _, c := range workload(t, o).Template.Spec.Containers {
				bin := binaryOf(c.Command, c.Args)
				cfg, ok := serviceConfig(bin)
				if !ok {
					continue
				}
				env := b.env(t, o, c)
				if err := config.Load(environ(env), cfg); err != nil {
					t.Errorf("%s: %s %s (%s): %v", dir, o.Kind, o.Metadata.Name, bin, err)
				}
				if env["NSFLOW_PROVISION"] != "false" {
					t.Errorf("%s: %s: NSFLOW_PROVISION=%q; the services' NATS users cannot provision", dir, o.Metadata.Name, env["NSFLOW_PROVISION"])
				}
				checkNATSUser(t, dir+" "+o.Metadata.Name, bin, env)
				loaded++
			}
		}
		if loaded != 4 {
			t.Errorf("%s: loaded %d service environments, want 4 (extractor, transformer, loader, provision)", dir, loaded)
		}
	}

	// The CLI Job of tools/ runs against the base's ConfigMap and Secrets.
	b := loadBundle(t, filepath.Join(deploymentsDir(), "k8s", "base"))
	for _, o := range loadObjects(t, filepath.Join(deploymentsDir(), "k8s", "tools", "nsflow-cli.yaml")) {
		checkWorkload(t, b, o)
		for _, c := range workload(t, o).Template.Spec.Containers {
			var cfg config.Transformer
			if err := config.Load(environ(b.env(t, o, c)), &cfg); err != nil {
				t.Errorf("tools/nsflow-cli.yaml: %v", err)
			}
		}
	}
}

// checkNATSUser: a service connects as its own user (provision as admin).
func checkNATSUser(t *testing.T, where, bin string, env map[string]string) {
	t.Helper()
	want := bin
	if bin == "provision" {
		want = "admin"
	}
	if env["NATS_USER"] != want {
		t.Errorf("%s: NATS_USER=%q, want %q", where, env["NATS_USER"], want)
	}
	if env["NATS_PASSWORD"] == "" {
		t.Errorf("%s: NATS_PASSWORD is empty", where)
	}
	// auth.conf lets each service subscribe to its own inboxes only.
	if wantPrefix := "_INBOX_" + bin; bin != "provision" && env["NATS_INBOX_PREFIX"] != wantPrefix {
		t.Errorf("%s: NATS_INBOX_PREFIX=%q, want %q (the only inboxes auth.conf lets %s subscribe to)", where, env["NATS_INBOX_PREFIX"], wantPrefix, bin)
	}
	for k, v := range env {
		if strings.HasSuffix(k, "_NATS_PASSWORD") && v != "" {
			t.Errorf("%s: the container also gets %s: a service must know only its own password", where, k)
		}
	}
}

// ---------------------------------------------------------------- NATS

// natsPasswordVars are the variables auth.conf reads from the environment.
func natsPasswordVars(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deploymentsDir(), "compose", "nats", "auth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, m := range regexp.MustCompile(`\$([A-Z][A-Z0-9_]*_NATS_PASSWORD)\b`).FindAllStringSubmatch(string(b), -1) {
		vars = append(vars, m[1])
	}
	slices.Sort(vars)
	return slices.Compact(vars)
}

func setNATSPasswords(t *testing.T) {
	for _, v := range natsPasswordVars(t) {
		t.Setenv(v, strings.ToLower(v))
	}
}

// loadNATSConfig loads a nats-server configuration file with the passwords
// and node name in the environment, and checks the accounts and users.
func loadNATSConfig(t *testing.T, path string) *server.Options {
	t.Helper()
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server rejects %s: %v", path, err)
	}
	if !opts.JetStream {
		t.Errorf("%s: JetStream is off", path)
	}
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
		if u.Account == nil || u.Account.Name != "NSFLOW" {
			t.Errorf("%s: user %s is not in account NSFLOW", path, u.Username)
		}
		if u.Password == "" {
			t.Errorf("%s: user %s has no password", path, u.Username)
		}
	}
	for _, name := range []string{"admin", "extractor", "transformer", "loader"} {
		if users[name] == nil {
			t.Errorf("%s: no NATS user %s", path, name)
		}
	}
	if u := users["admin"]; u != nil && u.Permissions != nil {
		t.Errorf("%s: admin provisions the layout and needs no permission limits", path)
	}
	for _, name := range []string{"extractor", "transformer", "loader"} {
		if u := users[name]; u != nil && (u.Permissions == nil || u.Permissions.Publish == nil || len(u.Permissions.Publish.Allow) == 0) {
			t.Errorf("%s: user %s has no publish allow-list", path, name)
		}
	}
	return opts
}

func TestNATSConfiguration(t *testing.T) {
	setNATSPasswords(t)
	compose := filepath.Join(deploymentsDir(), "compose", "nats")
	loadNATSConfig(t, filepath.Join(compose, "nats.conf"))
	t.Setenv("SERVER_NAME", "nats")
	opts := loadNATSConfig(t, filepath.Join(compose, "cluster.conf"))
	if opts.Cluster.Name == "" || len(opts.Routes) != 3 {
		t.Errorf("compose cluster.conf: cluster %q with %d routes, want a named cluster with 3", opts.Cluster.Name, len(opts.Routes))
	}

	// Kubernetes: the ConfigMap carries the same nats.conf and auth.conf.
	if *update {
		syncNATSConfigMap(t, compose)
	}
	b := loadBundle(t, filepath.Join(deploymentsDir(), "k8s", "base"))
	cm := b.find("ConfigMap", "nats-config")
	if cm == nil {
		t.Fatal("no ConfigMap nats-config")
	}
	dir := t.TempDir()
	for name, content := range cm.Data {
		if name == "nats.conf" || name == "auth.conf" {
			want, err := os.ReadFile(filepath.Join(compose, name))
			if err != nil {
				t.Fatal(err)
			}
			if content != string(want) {
				t.Errorf("ConfigMap nats-config %s differs from deployments/compose/nats/%s: run go test ./test/deployments -run TestNATSConfiguration -update", name, name)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("POD_NAME", "nats-0")
	opts = loadNATSConfig(t, filepath.Join(dir, "cluster.conf"))
	sts := b.find("StatefulSet", "nats")
	if sts == nil {
		t.Fatal("no StatefulSet nats")
	}
	w := workload(t, sts)
	if w.Replicas == nil || *w.Replicas != 3 || len(opts.Routes) != 3 {
		t.Errorf("NATS: %v replicas and %d routes, want 3 and 3", w.Replicas, len(opts.Routes))
	}
	for i, r := range opts.Routes {
		if want := fmt.Sprintf("nats-%d.%s", i, w.ServiceName); !strings.HasPrefix(r.Host, want) {
			t.Errorf("route %d is %s, want host %s (the StatefulSet's pods)", i, r.Host, want)
		}
	}
	// The NATS pods read every password auth.conf names.
	sec := b.find("Secret", "nsflow-nats-users")
	if sec == nil {
		t.Fatal("no Secret nsflow-nats-users")
	}
	for _, v := range natsPasswordVars(t) {
		if sec.StringData[v] == "" {
			t.Errorf("Secret nsflow-nats-users has no %s (auth.conf needs it)", v)
		}
	}
}

// syncNATSConfigMap rewrites the nats.conf and auth.conf blocks of the
// nats-config ConfigMap (deployments/k8s/base/nats.yaml) from the compose
// copies; cluster.conf, which differs, follows them and is kept.
func syncNATSConfigMap(t *testing.T, compose string) {
	t.Helper()
	path := filepath.Join(deploymentsDir(), "k8s", "base", "nats.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	y := string(b)
	start, end := strings.Index(y, "  nats.conf: |\n"), strings.Index(y, "  cluster.conf: |\n")
	if start < 0 || end < start {
		t.Fatalf("%s: want the keys nats.conf, auth.conf, cluster.conf in that order", path)
	}
	var blocks strings.Builder
	for _, name := range []string{"nats.conf", "auth.conf"} {
		c, err := os.ReadFile(filepath.Join(compose, name))
		if err != nil {
			t.Fatal(err)
		}
		blocks.WriteString("  " + name + ": |\n")
		for _, line := range strings.SplitAfter(strings.TrimRight(string(c), "\n")+"\n", "\n") {
			if strings.TrimSpace(line) == "" {
				blocks.WriteString(strings.TrimLeft(line, " \t"))
				continue
			}
			blocks.WriteString("    " + line)
		}
	}
	if err := os.WriteFile(path, []byte(y[:start]+blocks.String()+y[end:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------- compose

type composeFile struct {
	Version  string                    `yaml:"version"`
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	EnvFile     any               `yaml:"env_file"`
	Environment map[string]string `yaml:"environment"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// readEnvFile reads KEY=VALUE lines the way docker-compose does (no quotes
// used here).
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: %q is not KEY=VALUE", path, line)
			continue
		}
		env[k] = v
	}
	return env
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate substitutes ${NAME}, ${NAME:-default} and ${NAME:?error} from
// vars as docker-compose does.
func interpolate(t *testing.T, s string, vars map[string]string) string {
	return interpolation.ReplaceAllStringFunc(s, func(m string) string {
		p := interpolation.FindStringSubmatch(m)
		v, set := vars[p[1]]
		switch p[2] {
		case ":-":
			if v == "" {
				return p[3]
			}
		case "-":
			if !set {
				return p[3]
			}
		case ":?", "?":
			if !set || (p[2] == ":?" && v == "") {
				t.Errorf("compose would stop: %s (%s)", p[1], p[3])
			}
		}
		return v
	})
}

// loadCompose reads compose files (later ones override service keys, and
// merge environment maps, as docker-compose does).
func loadCompose(t *testing.T, files ...string) composeFile {
	t.Helper()
	var out composeFile
	for _, f := range files {
		path := filepath.Join(deploymentsDir(), "compose", f)
		docs := yamlDocs(t, path)
		if len(docs) != 1 {
			t.Fatalf("%s: %d documents", path, len(docs))
		}
		var c composeFile
		if err := docs[0].Decode(&c); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if c.Version != "3.8" {
			t.Errorf(`%s: version %q; docker-compose v1.29 here wants "3.8"`, path, c.Version)
		}
		if out.Services == nil {
			out = c
			continue
		}
		for name, s := range c.Services {
			base, ok := out.Services[name]
			if !ok {
				out.Services[name] = s
				continue
			}
			if s.Image != "" {
				base.Image = s.Image
			}
			if s.Entrypoint != nil {
				base.Entrypoint = s.Entrypoint
			}
			if s.Command != nil {
				base.Command = s.Command
			}
			if s.Healthcheck != nil && s.Healthcheck.Test != nil {
				base.Healthcheck = s.Healthcheck
			}
			if base.Environment == nil {
				base.Environment = map[string]string{}
			}
			for k, v := range s.Environment {
				base.Environment[k] = v
			}
			for k, v := range s.DependsOn {
				if base.DependsOn == nil {
					base.DependsOn = map[string]struct {
						Condition string `yaml:"condition"`
					}{}
				}
				base.DependsOn[k] = v
			}
			out.Services[name] = base
		}
	}
	return out
}

// TestComposeEnvironmentLoads builds each nsflow container's environment
// from .env.example and the compose files, and loads it with the service's
// configuration loader; it also checks that no container but NATS holds
// another user's NATS password, and that healthchecks need no shell.
func TestComposeEnvironmentLoads(t *testing.T) {
	dotenv := readEnvFile(t, filepath.Join(deploymentsDir(), "compose", ".env.example"))
	known := config.Known()
	for k := range dotenv {
		if hasServicePrefix(k) && !known[k] {
			t.Errorf("compose .env.example: %s is not a setting any service knows", k)
		}
	}
	for _, variant := range [][]string{
		{"docker-compose.yml"},
		{"docker-compose.yml", "docker-compose.cluster.yml"},
	} {
		c := loadCompose(t, variant...)
		loaded := 0
		for name, s := range c.Services {
			where := fmt.Sprintf("%v: service %s", variant, name)
			if s.Healthcheck != nil && len(s.Healthcheck.Test) > 0 && s.Healthcheck.Test[0] != "CMD" {
				t.Errorf("%s: healthcheck %v: the images have no shell; use [\"CMD\", ...]", where, s.Healthcheck.Test)
			}
			for dep := range s.DependsOn {
				if _, ok := c.Services[dep]; !ok {
					t.Errorf("%s: depends on unknown service %s", where, dep)
				}
			}
			bin := binaryOf(s.Entrypoint, s.Command)
			cfg, ok := serviceConfig(bin)
			if !ok {
				continue
			}
			env := map[string]string{}
			if s.EnvFile != nil {
				for k, v := range dotenv {
					env[k] = v
				}
			}
			for k, v := range s.Environment {
				env[k] = interpolate(t, v, dotenv)
			}
			if err := config.Load(environ(env), cfg); err != nil {
				t.Errorf("%s (%s): %v", where, bin, err)
			}
			checkNATSUser(t, where, bin, env)
			loaded++
		}
		if loaded != 4 {
			t.Errorf("%v: loaded %d service environments, want 4 (extractor, transformer, loader, provision)", variant, loaded)
		}
		if len(variant) == 2 {
			env := c.Services["provision"].Environment
			for _, k := range []string{"NSFLOW_RAW_REPLICAS", "NSFLOW_EVENTS_REPLICAS", "NSFLOW_DLQ_REPLICAS", "NSFLOW_KV_REPLICAS"} {
				if env[k] != "3" {
					t.Errorf("cluster: provision %s=%q, want 3 (R3)", k, env[k])
				}
			}
		}
	}
}

func hasServicePrefix(k string) bool {
	return strings.HasPrefix(k, "NSFLOW_") || strings.HasPrefix(k, "NETSUITE_") || strings.HasPrefix(k, "NATS_")
}
