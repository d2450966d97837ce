package helm_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse/gatehouse/api/admin"
)

const chartDir = "gatehouse"

// rendered is every object of one render, decoded strictly into its
// k8s.io/api type (an unknown or misspelt field fails the decode).
type rendered struct {
	deployments map[string]*appsv1.Deployment
	jobs        map[string]*batchv1.Job
	services    []*corev1.Service
	ingresses   []*networkingv1.Ingress
	pdbs        map[string]*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	accounts    []*corev1.ServiceAccount
	kinds       []string
}

func decodeStrict(doc []byte, into any) error {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

// strictDecode decodes one rendered manifest of file name into a new T.
func strictDecode[T any](t *testing.T, name, doc string) *T {
	t.Helper()
	into := new(T)
	if err := decodeStrict([]byte(doc), into); err != nil {
		t.Fatalf("%s: strict decode into %T: %v\n%s", name, into, err, doc)
	}
	return into
}

// The decode is strict: a misspelt field is an error, not dropped.
func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	var d appsv1.Deployment
	if err := decodeStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicaz: 3\n"), &d); err == nil {
		t.Fatal("a misspelt field was accepted")
	}
	if err := decodeStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 3\n"), &d); err != nil || *d.Spec.Replicas != 3 {
		t.Fatal(err)
	}
}

func render(t *testing.T, valuesFile string) *rendered {
	t.Helper()
	vals := map[string]any{}
	if valuesFile != "" {
		var err error
		if vals, err = chartutil.ReadValuesFile(valuesFile); err != nil {
			t.Fatal(err)
		}
	}
	return renderValues(t, vals)
}

func renderValues(t *testing.T, vals map[string]any) *rendered {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	// helm lint --strict, as CI would run it.
	linter := lint.All(chartDir, vals, "gatehouse", true)
	for _, m := range linter.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("lint (values %v): %v", vals, m)
		}
	}
	top, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "gh", Namespace: "gatehouse", Revision: 1, IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Engine{Strict: true}.Render(ch, top)
	if err != nil {
		t.Fatal(err)
	}
	r := &rendered{deployments: map[string]*appsv1.Deployment{}, jobs: map[string]*batchv1.Job{}, pdbs: map[string]*policyv1.PodDisruptionBudget{}}
	for name, content := range files {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for _, doc := range releaseutil.SplitManifests(content) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if head.Kind == "" {
				continue // a template that rendered only comments
			}
			r.kinds = append(r.kinds, head.APIVersion+"/"+head.Kind)
			switch head.APIVersion + "/" + head.Kind {
			case "apps/v1/Deployment":
				d := strictDecode[appsv1.Deployment](t, name, doc)
				r.deployments[d.Name] = d
			case "batch/v1/Job":
				j := strictDecode[batchv1.Job](t, name, doc)
				r.jobs[j.Name] = j
			case "v1/Service":
				r.services = append(r.services, strictDecode[corev1.Service](t, name, doc))
			case "networking.k8s.io/v1/Ingress":
				r.ingresses = append(r.ingresses, strictDecode[networkingv1.Ingress](t, name, doc))
			case "policy/v1/PodDisruptionBudget":
				p := strictDecode[policyv1.PodDisruptionBudget](t, name, doc)
				r.pdbs[p.Name] = p
			case "autoscaling/v2/HorizontalPodAutoscaler":
				r.hpas = append(r.hpas, strictDecode[autoscalingv2.HorizontalPodAutoscaler](t, name, doc))
			case "v1/ServiceAccount":
				r.accounts = append(r.accounts, strictDecode[corev1.ServiceAccount](t, name, doc))
			default:
				t.Fatalf("%s: unexpected object %s/%s", name, head.APIVersion, head.Kind)
			}
		}
	}
	return r
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			m[e.Name] = "<from>"
			continue
		}
		m[e.Name] = e.Value
	}
	return m
}

// checkPod holds the rules every Gatehouse pod follows.
func checkPod(t *testing.T, what string, spec corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: pod must run as non-root: %+v", what, psc)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: the service account token must not be mounted (Gatehouse does not call the Kubernetes API)", what)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers", what, len(spec.Containers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: container must be read-only, without privilege escalation, all capabilities dropped: %+v", what, sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: resources must set CPU and memory requests and a memory limit: %+v", what, c.Resources)
	}
	env := envOf(c)
	// Secrets come from an existing Secret, as files: never a literal value
	// and never the environment.
	for _, name := range []string{"GATEHOUSE_DATABASE_URL", "GATEHOUSE_REDIS_URL", "GATEHOUSE_SECRET_KEY", "GATEHOUSE_ADMIN_TOKEN"} {
		if _, ok := env[name]; ok {
			t.Errorf("%s: %s in the environment (use %s_FILE)", what, name, name)
		}
		if !strings.HasPrefix(env[name+"_FILE"], "/etc/gatehouse/secrets/") {
			t.Errorf("%s: %s_FILE = %q", what, name, env[name+"_FILE"])
		}
	}
	var secretVol *corev1.Volume
	for i := range spec.Volumes {
		if spec.Volumes[i].Secret != nil {
			secretVol = &spec.Volumes[i]
		}
	}
	if secretVol == nil || secretVol.Secret.SecretName == "" {
		t.Errorf("%s: no volume from an existing Secret", what)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		if secretVol != nil && m.Name == secretVol.Name && m.MountPath == "/etc/gatehouse/secrets" && m.ReadOnly {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("%s: the Secret is not mounted read-only at /etc/gatehouse/secrets", what)
	}
}

// checkProbes: probes go to the admin port (never the public one).
func checkProbes(t *testing.T, what string, c corev1.Container, adminPort int32) {
	t.Helper()
	var admin int32
	for _, p := range c.Ports {
		if p.Name == "admin" {
			admin = p.ContainerPort
		}
	}
	if admin != adminPort {
		t.Errorf("%s: admin port %d, want %d", what, admin, adminPort)
	}
	if env := envOf(c); env["GATEHOUSE_ADMIN_ADDR"] != fmt.Sprintf(":%d", adminPort) {
		t.Errorf("%s: GATEHOUSE_ADMIN_ADDR = %q", what, env["GATEHOUSE_ADMIN_ADDR"])
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "admin" {
			t.Errorf("%s: %s probe not on the admin port: %+v", what, name, p)
			continue
		}
		want := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}[name]
		if p.HTTPGet.Path != want {
			t.Errorf("%s: %s probe path %q, want %s", what, name, p.HTTPGet.Path, want)
		}
	}
}

func checkCommon(t *testing.T, r *rendered) {
	serve, worker := r.deployments["gh-gatehouse-serve"], r.deployments["gh-gatehouse-worker"]
	if serve == nil || worker == nil {
		t.Fatalf("deployments: %v", r.kinds)
	}
	for what, d := range map[string]*appsv1.Deployment{"serve": serve, "worker": worker} {
		checkPod(t, what, d.Spec.Template.Spec)
		c := d.Spec.Template.Spec.Containers[0]
		checkProbes(t, what, c, 9090)
		if !slices.Equal(c.Args, []string{what}) {
			t.Errorf("%s: args %v", what, c.Args)
		}
		if envOf(c)["GATEHOUSE_MIGRATE"] != "off" {
			t.Errorf("%s: GATEHOUSE_MIGRATE must be off (the Job migrates)", what)
		}
		// The selector must match the template, and the two components
		// must not select each other's pods.
		for k, v := range d.Spec.Selector.MatchLabels {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("%s: selector %s=%s not on the pod template", what, k, v)
			}
		}
		if d.Spec.Selector.MatchLabels["app.kubernetes.io/component"] != what {
			t.Errorf("%s: selector %v", what, d.Spec.Selector.MatchLabels)
		}
		// Grace must outlast the preStop pause plus the 20 s drain.
		grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
		var pause int64
		if ps := c.Lifecycle; ps != nil && ps.PreStop != nil && ps.PreStop.Sleep != nil {
			pause = ps.PreStop.Sleep.Seconds
		}
		if grace == nil || *grace <= pause+int64(admin.DrainTimeout/time.Second) {
			t.Errorf("%s: terminationGracePeriodSeconds %v must exceed preStop %ds + the %s drain", what, grace, pause, admin.DrainTimeout)
		}
	}
	if envOf(serve.Spec.Template.Spec.Containers[0])["GATEHOUSE_INPROCESS_WORKERS"] != "false" {
		t.Error("serve must not run workers in-process next to the worker Deployment")
	}
	job := r.jobs["gh-gatehouse-migrate"]
	if job == nil {
		t.Fatalf("no migrations Job: %v", r.kinds)
	}
	hooks := strings.Split(job.Annotations["helm.sh/hook"], ",")
	if !slices.Contains(hooks, "pre-install") || !slices.Contains(hooks, "pre-upgrade") {
		t.Errorf("migrations Job hooks %v", hooks)
	}
	checkPod(t, "migrate", job.Spec.Template.Spec)
	if c := job.Spec.Template.Spec.Containers[0]; !slices.Equal(c.Args, []string{"migrate", "up"}) {
		t.Errorf("migrate args %v", c.Args)
	}
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("job restart policy %s", job.Spec.Template.Spec.RestartPolicy)
	}
	svc := serviceNamed(r, "gh-gatehouse")
	if svc == nil {
		t.Fatalf("no public Service: %v", r.kinds)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("the Service must expose only the public port: %+v", svc.Spec.Ports)
	}
	for k, v := range svc.Spec.Selector {
		if serve.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, not on serve pods", k, v)
		}
	}
	if r.pdbs["gh-gatehouse-serve"] == nil {
		t.Error("no PodDisruptionBudget for serve")
	}
}

func TestChartDefaultValues(t *testing.T) {
	r := render(t, "")
	checkCommon(t, r)
	serve := r.deployments["gh-gatehouse-serve"]
	if serve.Spec.Replicas == nil || *serve.Spec.Replicas != 2 {
		t.Errorf("serve replicas %v", serve.Spec.Replicas)
	}
	if len(r.ingresses) != 0 || len(r.hpas) != 0 {
		t.Errorf("ingress and HPA are opt-in: %v", r.kinds)
	}
	if img := serve.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/gatehouse/gatehouse:0.1.0" {
		t.Errorf("image %q (must default to the chart's appVersion)", img)
	}
}

func TestChartProductionValues(t *testing.T) {
	r := render(t, filepath.Join("values-production.yaml"))
	checkCommon(t, r)
	serve := r.deployments["gh-gatehouse-serve"]
	if serve.Spec.Replicas != nil {
		t.Error("with the HPA on, the Deployment must leave replicas to it")
	}
	if len(r.hpas) != 1 || r.hpas[0].Spec.ScaleTargetRef.Name != serve.Name || r.hpas[0].Spec.MinReplicas == nil || *r.hpas[0].Spec.MinReplicas != 3 {
		t.Fatalf("HPA: %+v", r.hpas)
	}
	if len(r.ingresses) != 1 {
		t.Fatalf("ingress: %v", r.kinds)
	}
	ing := r.ingresses[0]
	hosts := []string{}
	for _, rule := range ing.Spec.Rules {
		hosts = append(hosts, rule.Host)
		if be := rule.HTTP.Paths[0].Backend.Service; be == nil || be.Name != "gh-gatehouse" || be.Port.Name != "http" {
			t.Errorf("ingress backend %+v", rule.HTTP.Paths[0].Backend)
		}
	}
	if !slices.Equal(hosts, []string{"connect.example.com", "*.connect.example.com"}) || len(ing.Spec.TLS) != 1 {
		t.Errorf("ingress hosts %v tls %v", hosts, ing.Spec.TLS)
	}
	env := envOf(serve.Spec.Template.Spec.Containers[0])
	if env["GATEHOUSE_PUBLIC_URL"] != "https://connect.example.com" || env["GATEHOUSE_TENANT_DOMAIN"] != "connect.example.com" ||
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "" || env["GATEHOUSE_DB_MAX_OPEN_CONNS"] != "8" {
		t.Errorf("serve env %v", env)
	}
	if p := r.pdbs["gh-gatehouse-serve"]; p == nil || p.Spec.MinAvailable.IntValue() != 2 {
		t.Errorf("serve PDB %+v", p)
	}
	if r.pdbs["gh-gatehouse-worker"] == nil {
		t.Error("worker PDB missing")
	}
	// 3..12 serve + 2 workers + the Job at 8 connections each must fit a
	// managed Postgres with max_connections 200 at the HPA's ceiling.
	if total := (12 + 2 + 1) * 8; total > 200 {
		t.Errorf("pool %d connections at full scale", total)
	}
}

func serviceNamed(r *rendered, name string) *corev1.Service {
	for _, s := range r.services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// The admin Service is opt-in, internal, and points at the admin port.
func TestChartAdminService(t *testing.T) {
	if serviceNamed(render(t, ""), "gh-gatehouse-admin") != nil {
		t.Fatal("the admin Service is on by default")
	}
	r := renderValues(t, map[string]any{"adminService": map[string]any{"enabled": true}})
	checkCommon(t, r)
	svc := serviceNamed(r, "gh-gatehouse-admin")
	if svc == nil || svc.Spec.Type != corev1.ServiceTypeClusterIP || len(svc.Spec.Ports) != 1 ||
		svc.Spec.Ports[0].Port != 9090 || svc.Spec.Ports[0].TargetPort.String() != "admin" {
		t.Fatalf("admin Service: %+v", svc)
	}
	if svc.Spec.Selector["app.kubernetes.io/component"] != "serve" {
		t.Errorf("admin Service selects %v", svc.Spec.Selector)
	}
}

// The chart's own files are what the test reads (guard against a renamed
// directory silently rendering nothing).
func TestChartFiles(t *testing.T) {
	for _, f := range []string{"Chart.yaml", "values.yaml", "templates/serve-deployment.yaml", "templates/worker-deployment.yaml", "templates/migrate-job.yaml"} {
		if _, err := os.Stat(filepath.Join(chartDir, f)); err != nil {
			t.Error(err)
		}
	}
}
