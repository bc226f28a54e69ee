package discovery

import (
	"mime"
	"sort"
	"strconv"
	"strings"
)

const (
	aggregatedGroup = "apidiscovery.k8s.io"
	aggregatedAs    = "APIGroupDiscoveryList"
)

// aggregatedVersions are the apidiscovery.k8s.io versions served, newest
// first.
var aggregatedVersions = []string{"v2", "v2beta1"}

// negotiate returns the apidiscovery.k8s.io version the Accept header asks
// for (a JSON media type with g, v and as parameters) ahead of any plain
// type it would also accept, or "" for the legacy documents.
func negotiate(accept string) string {
	type choice struct {
		version string // "" = legacy
		q       float64
	}
	var choices []choice
	for _, part := range strings.Split(accept, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		base, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				q = f
			}
		}
		if q <= 0 {
			continue
		}
		if params["g"] == aggregatedGroup && params["as"] == aggregatedAs {
			if base == "application/json" && isAggregatedVersion(params["v"]) {
				choices = append(choices, choice{version: params["v"], q: q})
			}
			continue
		}
		choices = append(choices, choice{q: q})
	}
	sort.SliceStable(choices, func(i, j int) bool { return choices[i].q > choices[j].q })
	if len(choices) == 0 {
		return ""
	}
	return choices[0].version
}

func isAggregatedVersion(v string) bool {
	for _, a := range aggregatedVersions {
		if a == v {
			return true
		}
	}
	return false
}

// aggregatedContentType is the Content-Type of an aggregated reply.
func aggregatedContentType(version string) string {
	return "application/json;g=" + aggregatedGroup + ";v=" + version + ";as=" + aggregatedAs
}
