package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// k8sDir holds the kustomize base, components and overlays.
const k8sDir = "k8s"

// The operator resources below are strict structs of the documented fields
// this deployment uses, instead of the operators' own Go modules (KEDA and
// prometheus-operator pull in hundreds of packages). An unknown or misspelt
// field fails the strict decode just the same.

// scaledObject is KEDA's keda.sh/v1alpha1 ScaledObject.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              scaledObjectSpec `json:"spec"`
}

type scaledObjectSpec struct {
	ScaleTargetRef        scaleTarget   `json:"scaleTargetRef"`
	PollingInterval       *int32        `json:"pollingInterval,omitempty"`
	CooldownPeriod        *int32        `json:"cooldownPeriod,omitempty"`
	InitialCooldownPeriod *int32        `json:"initialCooldownPeriod,omitempty"`
	IdleReplicaCount      *int32        `json:"idleReplicaCount,omitempty"`
	MinReplicaCount       *int32        `json:"minReplicaCount,omitempty"`
	MaxReplicaCount       *int32        `json:"maxReplicaCount,omitempty"`
	Fallback              *kedaFallback `json:"fallback,omitempty"`
	Advanced              *kedaAdvanced `json:"advanced,omitempty"`
	Triggers              []kedaTrigger `json:"triggers"`
}

type scaleTarget struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name"`
}

type kedaFallback struct {
	FailureThreshold int32 `json:"failureThreshold"`
	Replicas         int32 `json:"replicas"`
}

type kedaAdvanced struct {
	RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`
	HorizontalPodAutoscalerConfig *struct {
		Name     string                                         `json:"name,omitempty"`
		Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
	} `json:"horizontalPodAutoscalerConfig,omitempty"`
}

type kedaTrigger struct {
	Type              string `json:"type"`
	Name              string `json:"name,omitempty"`
	MetricType        string `json:"metricType,omitempty"`
	UseCachedMetrics  bool   `json:"useCachedMetrics,omitempty"`
	AuthenticationRef *struct {
		Name string `json:"name"`
		Kind string `json:"kind,omitempty"`
	} `json:"authenticationRef,omitempty"`
	// KEDA reads trigger metadata as strings only: a bare number in YAML
	// fails here as it would in the cluster.
	Metadata map[string]string `json:"metadata"`
}

// serviceMonitor is prometheus-operator's monitoring.coreos.com/v1 ServiceMonitor.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		TargetLabels      []string             `json:"targetLabels,omitempty"`
		PodTargetLabels   []string             `json:"podTargetLabels,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
			HonorLabels   bool   `json:"honorLabels,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// prometheusRule is prometheus-operator's monitoring.coreos.com/v1 PrometheusRule.
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []struct {
			Name     string `json:"name"`
			Interval string `json:"interval,omitempty"`
			Rules    []struct {
				Alert       string            `json:"alert,omitempty"`
				Record      string            `json:"record,omitempty"`
				Expr        string            `json:"expr"`
				For         string            `json:"for,omitempty"`
				Labels      map[string]string `json:"labels,omitempty"`
				Annotations map[string]string `json:"annotations,omitempty"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// goTypes maps apiVersion/kind to the Go type its objects decode into. A
// kind missing here fails the test: every object must be checked.
var goTypes = map[string]func() any{
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"batch/v1/Job":                            func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"keda.sh/v1alpha1/ScaledObject":           func() any { return &scaledObject{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &serviceMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &prometheusRule{} },
}

// rendered is one overlay's output, decoded.
type rendered struct {
	namespace string
	problems  []string // objects that did not decode

	configMaps      map[string]*corev1.ConfigMap
	secrets         []*corev1.Secret
	services        []*corev1.Service
	serviceAccounts map[string]*corev1.ServiceAccount
	deployments     []*appsv1.Deployment
	jobs            []*batchv1.Job
	pdbs            []*policyv1.PodDisruptionBudget
	netpols         []*networkingv1.NetworkPolicy
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	scaledObjects   []*scaledObject
	serviceMonitors []*serviceMonitor
	rules           []*prometheusRule
	all             []metav1.Object
}

// workload is a pod template with the object that owns it.
type workload struct {
	kind, name string
	tmpl       *corev1.PodTemplateSpec
}

func (r *rendered) workloads() []workload {
	var out []workload
	for _, d := range r.deployments {
		out = append(out, workload{kind: "Deployment", name: d.Name, tmpl: &d.Spec.Template})
	}
	for _, j := range r.jobs {
		out = append(out, workload{kind: "Job", name: j.Name, tmpl: &j.Spec.Template})
	}
	return out
}

func (r *rendered) deployment(name string) *appsv1.Deployment {
	for _, d := range r.deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// configMap returns a ConfigMap's data by its (rendered) name.
func (r *rendered) configMap(name string) map[string]string {
	if cm, ok := r.configMaps[name]; ok {
		return cm.Data
	}
	return nil
}

// overlayDirs lists the overlays on disk; there must be dev, test and prod.
func overlayDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(k8sDir, "overlays"))
	if err != nil {
		t.Fatalf("list overlays: %v", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	for _, want := range []string{"dev", "test", "prod"} {
		if !contains(names, want) {
			t.Fatalf("overlay %s missing under %s/overlays (have %v)", want, k8sDir, names)
		}
	}
	return names
}

// renderOverlay builds deploy/k8s/overlays/<name> with the kustomize API, as
// `oc apply -k` / `kustomize build` would.
func renderOverlay(t *testing.T, name string) *rendered {
	t.Helper()
	return renderWith(t, filesys.MakeFsOnDisk(), filepath.Join(k8sDir, "overlays", name), name)
}

// renderVariant builds an overlay after rewriting its kustomization.yaml in
// an in-memory copy of deploy/k8s, so variants the operators are told about
// (swap one component for another) are checked without files of their own.
func renderVariant(t *testing.T, overlay, label string, edit func(kustomization string) string) *rendered {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	root := "/k8s"
	err := filepath.WalkDir(k8sDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(k8sDir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return mem.WriteFile(filepath.Join(root, rel), data)
	})
	if err != nil {
		t.Fatalf("copy %s into memory: %v", k8sDir, err)
	}
	kpath := filepath.Join(root, "overlays", overlay, "kustomization.yaml")
	orig, err := mem.ReadFile(kpath)
	if err != nil {
		t.Fatal(err)
	}
	edited := edit(string(orig))
	if edited == string(orig) {
		t.Fatalf("variant %s: the edit changed nothing in overlays/%s/kustomization.yaml", label, overlay)
	}
	if err := mem.WriteFile(kpath, []byte(edited)); err != nil {
		t.Fatal(err)
	}
	return renderWith(t, mem, filepath.Join(root, "overlays", overlay), label)
}

func renderWith(t *testing.T, fsys filesys.FileSystem, dir, label string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(fsys, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{
		configMaps:      map[string]*corev1.ConfigMap{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
	}
	for _, res := range resMap.Resources() {
		raw, err := res.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: marshal %s/%s: %v", label, res.GetKind(), res.GetName(), err)
		}
		key := res.GetApiVersion() + "/" + res.GetKind()
		id := fmt.Sprintf("%s %s", key, res.GetName())
		newObj, ok := goTypes[key]
		if !ok {
			r.problems = append(r.problems, fmt.Sprintf("%s: no Go type registered for %s (add it to goTypes so the object is validated)", id, key))
			continue
		}
		obj := newObj()
		if err := decodeStrict(raw, obj); err != nil {
			r.problems = append(r.problems, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		r.add(obj)
	}
	return r
}

// decodeStrict decodes JSON into v and fails on any field v does not have.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("strict decode: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("strict decode: trailing data")
	}
	return nil
}

func (r *rendered) add(obj any) {
	if m, ok := obj.(metav1.Object); ok {
		r.all = append(r.all, m)
		if ns := m.GetNamespace(); ns != "" && r.namespace == "" {
			r.namespace = ns
		}
	}
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		r.configMaps[o.Name] = o
	case *corev1.Secret:
		r.secrets = append(r.secrets, o)
	case *corev1.Service:
		r.services = append(r.services, o)
	case *corev1.ServiceAccount:
		r.serviceAccounts[o.Name] = o
	case *appsv1.Deployment:
		r.deployments = append(r.deployments, o)
	case *batchv1.Job:
		r.jobs = append(r.jobs, o)
	case *policyv1.PodDisruptionBudget:
		r.pdbs = append(r.pdbs, o)
	case *networkingv1.NetworkPolicy:
		r.netpols = append(r.netpols, o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		r.hpas = append(r.hpas, o)
	case *scaledObject:
		r.scaledObjects = append(r.scaledObjects, o)
	case *serviceMonitor:
		r.serviceMonitors = append(r.serviceMonitors, o)
	case *prometheusRule:
		r.rules = append(r.rules, o)
	}
}

// envValue is one variable as the container will see it. Secret-sourced
// values are shown as a placeholder "secret-<name>-<key>"; a user or password
// ends in characters that URLs reserve (secretSuffix), as a real one may, so a
// URL composed from it by $(VAR) does not parse and the checks catch it.
type envValue struct {
	value      string
	fromSecret bool
	literal    bool // written in the manifest (env value or ConfigMap data)
}

// secretSuffix ends the placeholder of a Secret's user or password.
const secretSuffix = "#/@:%"

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// containerEnv resolves a container's environment the way the kubelet does:
// envFrom first, then env in order, each $(VAR) expanded from what is
// defined before it. It reports references that stay unresolved.
func (r *rendered) containerEnv(c corev1.Container) (map[string]envValue, []string) {
	env := map[string]envValue{}
	var problems []string
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			data := r.configMap(from.ConfigMapRef.Name)
			if data == nil {
				problems = append(problems, fmt.Sprintf("envFrom ConfigMap %q is not in the output", from.ConfigMapRef.Name))
			}
			for k, v := range data {
				env[from.Prefix+k] = envValue{value: v, literal: true}
			}
		case from.SecretRef != nil:
			problems = append(problems, fmt.Sprintf("envFrom Secret %q: reference single keys with secretKeyRef instead", from.SecretRef.Name))
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			expanded := envRef.ReplaceAllStringFunc(e.Value, func(m string) string {
				name := envRef.FindStringSubmatch(m)[1]
				v, ok := env[name]
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: $(%s) is not defined before it (envFrom or an earlier env entry)", e.Name, name))
					return m
				}
				return v.value
			})
			env[e.Name] = envValue{value: expanded, literal: true}
		case e.ValueFrom.SecretKeyRef != nil:
			s := e.ValueFrom.SecretKeyRef
			v := "secret-" + s.Name + "-" + s.Key
			if s.Key == "user" || s.Key == "password" {
				v += secretSuffix
			}
			env[e.Name] = envValue{value: v, fromSecret: true}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			s := e.ValueFrom.ConfigMapKeyRef
			v, ok := r.configMap(s.Name)[s.Key]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: ConfigMap %s has no key %s", e.Name, s.Name, s.Key))
			}
			env[e.Name] = envValue{value: v, literal: true}
		default: // resourceFieldRef, fieldRef: filled in by the kubelet
			env[e.Name] = envValue{value: "(from the pod)"}
		}
	}
	return env, problems
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// selects reports whether a label selector matches a set of labels.
func selects(t *testing.T, sel *metav1.LabelSelector, labels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("bad selector %v: %v", sel, err)
		return false
	}
	return s.Matches(k8slabels.Set(labels))
}

// imageTag splits an image reference into name and tag (or digest).
func imageTag(image string) (name, tag string) {
	if i := strings.Index(image, "@"); i >= 0 {
		return image[:i], image[i+1:]
	}
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		return image[:i], image[i+1:]
	}
	return image, ""
}
