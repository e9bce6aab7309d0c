package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"webservicemonitor/alerts"
)

// Every shipped rule is named like the daemon's own alerts, has a
// severity the README knows, and a runbook_url ending in its own anchor.
func TestDeployRulesNamedAndLinked(t *testing.T) {
	seen := 0
	for _, path := range []string{"../../deploy/prometheus/webservicemonitor.rules.yml", "../../deploy/prometheus/fleet.rules.yml",
		"../../deploy/prometheus/ha.rules.yml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Groups []struct {
				Rules []struct {
					Alert       string            `yaml:"alert"`
					Labels      map[string]string `yaml:"labels"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				seen++
				if !strings.HasPrefix(r.Alert, "WebserviceMonitor") {
					t.Errorf("%s: alert %s is not named WebserviceMonitor…", path, r.Alert)
				}
				if sev := r.Labels["severity"]; sev != "page" && sev != "warning" {
					t.Errorf("%s: alert %s has severity %q, want page or warning", path, r.Alert, sev)
				}
				if u := r.Annotations["runbook_url"]; !strings.Contains(u, "$externalLabels.runbook_base") || !strings.HasSuffix(u, "#"+strings.ToLower(r.Alert)) {
					t.Errorf("%s: alert %s has runbook_url %q, want the runbook_base with #%s", path, r.Alert, u, strings.ToLower(r.Alert))
				}
			}
		}
	}
	if seen < 12 {
		t.Errorf("found %d rules, want at least 12", seen)
	}
	for _, n := range alerts.Names() {
		if !strings.HasPrefix(n, "WebserviceMonitor") {
			t.Errorf("the daemon's alert %s is not named WebserviceMonitor…", n)
		}
	}
}

// The dashboard's import dialog asks only for what its panels use: every
// __inputs entry is referenced, every ${VAR} is an input or a variable;
// and a panel shows the builds running on every host.
func TestDashboardInputsUsedAndVersionsShown(t *testing.T) {
	data, err := os.ReadFile("../../deploy/grafana/webservicemonitor-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Inputs     []struct{ Name string } `json:"__inputs"`
		Templating struct {
			List []struct{ Name string } `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	var known []string
	for _, in := range dash.Inputs {
		known = append(known, in.Name)
		if strings.Count(string(data), "${"+in.Name+"}") == 0 {
			t.Errorf("__inputs asks for %s, which nothing uses", in.Name)
		}
	}
	for _, v := range dash.Templating.List {
		known = append(known, v.Name)
	}
	for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(string(data), -1) {
		if !slices.Contains(known, m[1]) {
			t.Errorf("the dashboard uses ${%s}, neither an input nor a variable", m[1])
		}
	}
	if !regexp.MustCompile(`count by \(instance, version[^)]*\) \(webservicemonitor_build_info\{job=\\"\$job\\"\}\)`).Match(data) {
		t.Error("no panel shows the builds running by instance (webservicemonitor_build_info by instance and version)")
	}
}
