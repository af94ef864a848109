// Package e2e is the system test (make e2e): real Postfix and Exim deliver
// mail over loopback to fake Proofpoint receivers, and ppwatch follows their
// logs. Its files build only with the tag e2e and need root and the
// packages that .ci/e2e-setup installs; this file only gives the package
// its name, so that go vet ./... has one to look at.
package e2e
