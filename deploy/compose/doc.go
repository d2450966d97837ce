// Package compose holds the check of the repository's docker-compose.yml
// and .env.example (test-only, so compose-go never reaches the binary).
package compose
