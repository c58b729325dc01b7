//go:build integration

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

func TestMain(m *testing.M) {
	// Read once by testcontainers at its first use; only the literal "true"
	// disables Ryuk, whose image would need a registry.
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	os.Exit(m.Run())
}

// images are the two image references every test runs.
type images struct {
	nsflow, nats string
}

var built struct {
	once sync.Once
	img  images
	err  error
}

// testImages skips the test without Docker, then builds the images once per
// run (or takes ITEST_NSFLOW_IMAGE / ITEST_NATS_IMAGE).
func testImages(t *testing.T) images {
	t.Helper()
	testcontainers.SkipIfProviderIsNotHealthy(t)
	built.once.Do(func() {
		start := time.Now()
		built.img, built.err = buildImages()
		if built.err == nil {
			built.err = pickDaemonHost(built.img.nats)
		}
		fmt.Fprintf(os.Stderr, "e2e: images %s and %s ready in %s\n", built.img.nsflow, built.img.nats, time.Since(start).Round(time.Second))
	})
	if built.err != nil {
		t.Fatalf("build images: %v", built.err)
	}
	return built.img
}

func buildImages() (images, error) {
	nsflowRef, natsRef := os.Getenv("ITEST_NSFLOW_IMAGE"), os.Getenv("ITEST_NATS_IMAGE")
	if nsflowRef != "" && natsRef != "" {
		return images{nsflow: nsflowRef, nats: natsRef}, nil
	}
	root, err := repoRoot()
	if err != nil {
		return images{}, err
	}
	dir, err := os.MkdirTemp("", "nsflow-e2e-context-")
	if err != nil {
		return images{}, err
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// The same binaries as `make images`: static, no cgo.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=e2e", "-o", dir+"/",
		"./services/extractor", "./services/transformer", "./services/loader", "./cmd/nsflow",
		"github.com/nats-io/nats-server/v2", "./build/healthcheck")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return images{}, fmt.Errorf("go build: %w\n%s", err, out)
	}
	for _, f := range []string{"nsflow.Dockerfile", "nats.Dockerfile"} {
		if err := copyFile(filepath.Join(root, "build", f), filepath.Join(dir, f)); err != nil {
			return images{}, err
		}
	}
	// The images carry the host's CA bundle; an empty file will do for tests
	// on a host without one (nothing here speaks https).
	if err := copyFile("/etc/ssl/certs/ca-certificates.crt", filepath.Join(dir, "ca-certificates.crt")); err != nil {
		if err := os.WriteFile(filepath.Join(dir, "ca-certificates.crt"), nil, 0o644); err != nil {
			return images{}, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "rootfs", "data"), 0o755); err != nil {
		return images{}, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "rootfs", "tmp"), 0o755); err != nil {
		return images{}, err
	}
	if err := os.Chmod(filepath.Join(dir, "rootfs", "tmp"), 0o1777); err != nil {
		return images{}, err
	}

	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return images{}, fmt.Errorf("docker provider: %w", err)
	}
	defer provider.Close()
	img := images{nsflow: nsflowRef, nats: natsRef}
	for _, b := range []struct {
		ref        *string
		dockerfile string
		repo       string
	}{
		{&img.nsflow, "nsflow.Dockerfile", "nsflow-e2e/nsflow"},
		{&img.nats, "nats.Dockerfile", "nsflow-e2e/nats"},
	} {
		if *b.ref != "" {
			continue
		}
		ref := b.repo + ":test"
		var previous string
		if old, err := provider.Client().ImageInspect(ctx, ref); err == nil {
			previous = old.ID
		}
		ref, err := provider.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
			Context: dir, Dockerfile: b.dockerfile, Repo: b.repo, Tag: "test", KeepImage: true,
			BuildLogWriter: io.Discard,
		}})
		if err != nil {
			return images{}, fmt.Errorf("docker build %s: %w", b.dockerfile, err)
		}
		*b.ref = ref
		// The tag moved to a new build: drop the image it leaves untagged
		// (unless something still uses it).
		if now, err := provider.Client().ImageInspect(ctx, ref); err == nil && previous != "" && previous != now.ID {
			_, _ = provider.Client().ImageRemove(ctx, previous, client.ImageRemoveOptions{PruneChildren: true})
		}
	}
	return img, nil
}

// pickDaemonHost makes sure the address testcontainers uses for published
// ports answers. Where the test process looks like it runs in a container
// (a /.dockerenv file) but talks to a local engine, testcontainers picks the
// default route's gateway, which may not be this machine; then localhost is
// tried and, if it answers, set as TESTCONTAINERS_HOST_OVERRIDE. An override
// set by the caller is kept.
func pickDaemonHost(natsImage string) error {
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); set {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr, err := testcontainers.Run(ctx, natsImage,
		testcontainers.WithExposedPorts("8222/tcp"),
		testcontainers.WithWaitStrategy(wait.ForLog("Server is ready")))
	defer func() { _ = testcontainers.TerminateContainer(ctr) }()
	if err != nil {
		return fmt.Errorf("probe container: %w", err)
	}
	port, err := ctr.MappedPort(ctx, "8222/tcp")
	if err != nil {
		return err
	}
	host, err := ctr.Host(ctx)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for _, h := range []string{host, "localhost"} {
		resp, err := client.Get("http://" + net.JoinHostPort(h, port.Port()) + "/healthz")
		if err != nil {
			continue
		}
		_ = resp.Body.Close()
		if h != host {
			fmt.Fprintf(os.Stderr, "e2e: published ports answer on %s, not on %s: setting TESTCONTAINERS_HOST_OVERRIDE=%s\n", h, host, h)
			return os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", h)
		}
		return nil
	}
	return fmt.Errorf("published ports answer neither on %s nor on localhost: set TESTCONTAINERS_HOST_OVERRIDE", host)
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/nsflow/nsflow\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod of github.com/nsflow/nsflow not found above the working directory")
		}
		dir = parent
	}
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
