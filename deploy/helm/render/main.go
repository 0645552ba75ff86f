// Command render prints a Helm chart's manifests as `helm template` would, for CI machines where
// the helm binary cannot be installed: Go's text/template with the sprig v3 function map (the
// library Helm 3 uses) plus Helm's own include, required, tpl, toYaml and fromYaml, the
// "missingkey=zero" option and Helm's "<no value>" clean-up, over values.yaml deep-merged with
// any -f files. It is built from Debian's packages (golang-go, golang-github-masterminds-sprig-dev,
// golang-k8s-sigs-yaml-dev) in GOPATH mode.
//
// Usage: render CHART_DIR RELEASE_NAME [-f values.yaml ...]
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	sprig "github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "render: "+format+"\n", a...)
	os.Exit(1)
}

func readYaml(path string) map[string]interface{} {
	raw, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(raw, &out); err != nil {
		fail("%s: %v", path, err)
	}
	return out
}

// merge copies src over dst, recursing into maps (Helm's coalescing of -f files over values.yaml).
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: render CHART_DIR RELEASE_NAME [-f values.yaml ...]")
	}
	chartDir, release := os.Args[1], os.Args[2]
	values := readYaml(filepath.Join(chartDir, "values.yaml"))
	for i := 3; i+1 < len(os.Args); i += 2 {
		if os.Args[i] == "-f" {
			values = merge(values, readYaml(os.Args[i+1]))
		}
	}
	chart := readYaml(filepath.Join(chartDir, "Chart.yaml"))
	top := map[string]interface{}{
		"Values":  values,
		"Release": map[string]interface{}{"Name": release, "Namespace": "default", "Service": "Helm", "IsInstall": true},
		"Chart":   map[string]interface{}{"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
	}

	t := template.New("chart").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	funcs["toYaml"] = func(v interface{}) string {
		b, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(b), "\n")
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		_ = yaml.Unmarshal([]byte(s), &m)
		return m
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		if _, err := c.New("tpl").Parse(text); err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = c.ExecuteTemplate(&buf, "tpl", data)
		return buf.String(), err
	}
	t.Funcs(funcs)

	files, _ := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	sort.Strings(files)
	var manifests []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			fail("%v", err)
		}
		name := filepath.Base(f)
		if _, err := t.New(name).Parse(string(raw)); err != nil {
			fail("%s: %v", name, err)
		}
		if !strings.HasPrefix(name, "_") && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			manifests = append(manifests, name)
		}
	}
	for _, name := range manifests {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, top); err != nil {
			fail("%s: %v", name, err)
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(out) == "" {
			continue
		}
		fmt.Printf("---\n# Source: %s/templates/%s\n%s\n", chart["name"], name, strings.TrimSpace(out))
	}
}
