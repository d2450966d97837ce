// Package helm holds the render check of the Helm chart in gatehouse/: it
// is a test-only package so the Helm SDK and Kubernetes API types never
// reach the gatehouse binary.
package helm
