package discovery

// groupPriority ranks the API groups as the upstream apiserver orders them
// in discovery: higher first. kubectl's REST mapper resolves a resource
// name or short name present in several groups to the first group listed,
// so the order is user-visible. Groups not listed come after these, by
// name.
var groupPriority = map[string]int{
	"apiregistration.k8s.io":       18000,
	"apps":                         17800,
	"events.k8s.io":                17750,
	"authentication.k8s.io":        17700,
	"authorization.k8s.io":         17600,
	"autoscaling":                  17500,
	"batch":                        17400,
	"certificates.k8s.io":          17300,
	"networking.k8s.io":            17200,
	"policy":                       17100,
	"rbac.authorization.k8s.io":    17000,
	"storage.k8s.io":               16800,
	"admissionregistration.k8s.io": 16700,
	"apiextensions.k8s.io":         16700,
	"scheduling.k8s.io":            16600,
	"coordination.k8s.io":          16500,
	"node.k8s.io":                  16300,
	"discovery.k8s.io":             16200,
	"flowcontrol.apiserver.k8s.io": 16100,
	"resource.k8s.io":              15900,
}

// groupLess orders groups by priority, then by name.
func groupLess(a, b string) bool {
	pa, pb := groupPriority[a], groupPriority[b]
	if pa != pb {
		return pa > pb
	}
	return a < b
}
