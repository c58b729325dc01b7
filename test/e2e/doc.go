// Package e2e holds the tier-3 container tests of the deployments: the
// FROM-scratch images of build/ (built from this tree), NATS with the
// per-service users of deployments/compose/nats, the NetSuite sandbox and the
// three services as separate containers on one Docker network.
//
// The tests are behind the build tag "integration" and skip, saying why, when
// no Docker engine answers:
//
//	make test-integration PKGS=./test/...
//
// They build the images once per run (go build CGO_ENABLED=0 into a temporary
// context, then docker build of build/nsflow.Dockerfile and
// build/nats.Dockerfile); ITEST_NSFLOW_IMAGE and ITEST_NATS_IMAGE name
// prebuilt images (`make images`) to use instead. Ryuk needs a registry, so
// TESTCONTAINERS_RYUK_DISABLED defaults to true here; every container is
// removed by testcontainers.CleanupContainer.
package e2e
