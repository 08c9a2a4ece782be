package main

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// No Docker engine runs where the tests do, so the deployment files are
// checked for what can be checked without one.

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		StopGracePeriod string `yaml:"stop_grace_period"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../docker-compose.yml")
	require.NoError(t, err)
	var compose composeFile
	require.NoError(t, yaml.Unmarshal(data, &compose))

	pg, ok := compose.Services["postgres"]
	require.True(t, ok, "a postgres service")
	assert.Equal(t, "postgres:16", pg.Image)
	assert.Contains(t, strings.Join(pg.Healthcheck.Test, " "), "pg_isready")
	require.NotEmpty(t, pg.Volumes)
	assert.Contains(t, compose.Volumes, strings.Split(pg.Volumes[0], ":")[0], "postgres keeps its data in a named volume")

	hf, ok := compose.Services["hookflow"]
	require.True(t, ok, "a hookflow service")
	assert.NotNil(t, hf.Build, "built from this repository's Dockerfile")
	assert.Equal(t, "service_healthy", hf.DependsOn["postgres"].Condition)
	assert.Regexp(t, `^postgres://hookflow:[^@]+@postgres:5432/hookflow`, hf.Environment["HOOKFLOW_DATABASE_URL"])
	assert.Contains(t, hf.Ports, "8080:8080")

	// Every HOOKFLOW_* variable the file sets is one serve reads.
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.register(fs)
	known := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { known[envName(f.Name)] = true })
	for name := range hf.Environment {
		assert.True(t, known[name], "%s is not a setting of hookflow serve", name)
	}

	// A stop gives the steps under way their whole grace period.
	stopGrace, err := time.ParseDuration(hf.StopGracePeriod)
	require.NoError(t, err, "the hookflow service sets stop_grace_period")
	assert.Greater(t, stopGrace, cfg.ShutdownGrace, "docker's stop waits longer than HOOKFLOW_SHUTDOWN_GRACE")
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	text := string(data)
	stages := regexp.MustCompile(`(?m)^FROM (\S+)(?: AS (\S+))?`).FindAllStringSubmatch(text, -1)
	require.Len(t, stages, 3, "node build, go build, runtime")
	assert.True(t, strings.HasPrefix(stages[0][1], "node:"), stages[0][1])
	assert.True(t, strings.HasPrefix(stages[1][1], "golang:"), stages[1][1])
	assert.Contains(t, text, "npm ci")
	assert.Contains(t, text, "CGO_ENABLED=0 go build")
	assert.Contains(t, text, "COPY --from=web /src/api/web/dist/ api/web/dist/", "the editor is embedded")
	assert.Contains(t, text, "ENTRYPOINT [\"/usr/local/bin/hookflow\"]")
}
