// Command healthcheck is the container health probe of the FROM-scratch
// images, which have no shell, curl or wget: it GETs each URL given and exits
// 0 when every answer is 2xx, 1 otherwise (Docker's HEALTHCHECK and compose's
// healthcheck contract). Kubernetes does not need it: use httpGet probes.
//
//	healthcheck http://127.0.0.1:9090/readyz
//	healthcheck 'http://127.0.0.1:8222/healthz?js-enabled-only=true'
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: healthcheck URL...")
		os.Exit(2)
	}
	for _, u := range os.Args[1:] {
		if err := probe(u); err != nil {
			fmt.Fprintf(os.Stderr, "healthcheck: %v\n", err)
			os.Exit(1)
		}
	}
}

func probe(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build request %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("get %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
