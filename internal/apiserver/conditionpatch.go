package apiserver

import (
	"bytes"
	"encoding/json"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kjson "sigs.k8s.io/json"
)

// The scheduler reports every pod it cannot place with a strategic merge
// patch of status.conditions alone. Like finalizer patches (see
// finalizerpatch.go, whose reasoning about the JSON round trip applies
// unchanged), such patches are applied to a deep copy of the pod instead
// of its JSON. Only the plain shape is taken: one object per condition,
// with a string "type" and nothing but PodCondition's own fields; any
// directive, unknown field, wrong JSON type or duplicate type goes to the
// general path, which knows what to make of it.

// conditionField is a bit per PodCondition field besides type.
type conditionField uint8

const (
	condStatus conditionField = 1 << iota
	condObservedGeneration
	condLastProbeTime
	condLastTransitionTime
	condReason
	condMessage
)

// conditionItem is one patch item: the fields it names (set to a value
// or, null, cleared) and their values, zero for the cleared ones.
type conditionItem struct {
	fields conditionField
	cond   corev1.PodCondition
}

// conditionPatch is {"status":{"conditions":[items]}} with items of
// distinct types.
type conditionPatch struct {
	items []conditionItem
}

// conditionsKey filters bodies before decoding; one that spells the key
// with escapes is left to the general path.
var conditionsKey = []byte(`"conditions"`)

// parseConditionPatch recognises a strategic merge patch of a pod's
// status.conditions in the plain shape. The body is decoded as the general
// path decodes it, so duplicate keys (the last wins) and escapes read the
// same.
func parseConditionPatch(pt types.PatchType, body []byte) (conditionPatch, bool) {
	if pt != types.StrategicMergePatchType || !bytes.Contains(body, conditionsKey) {
		return conditionPatch{}, false
	}
	var doc map[string]any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &doc); err != nil || len(doc) != 1 {
		return conditionPatch{}, false
	}
	status, ok := doc["status"].(map[string]any)
	if !ok || len(status) != 1 {
		return conditionPatch{}, false
	}
	// An empty list turns an absent list into an empty one on the general
	// path; nobody sends it, so it is not worth mirroring.
	list, ok := status["conditions"].([]any)
	if !ok || len(list) == 0 {
		return conditionPatch{}, false
	}
	items := make([]conditionItem, 0, len(list))
	for _, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return conditionPatch{}, false
		}
		item, ok := parseConditionItem(m)
		// Duplicate types merge into each other in ways not worth copying.
		if !ok || indexOfItem(items, item.cond.Type) >= 0 {
			return conditionPatch{}, false
		}
		items = append(items, item)
	}
	return conditionPatch{items: items}, true
}

// parseConditionItem reads one item; null clears a field, as the strategic
// merge deletes the key and decoding leaves the field zero.
func parseConditionItem(m map[string]any) (conditionItem, bool) {
	var item conditionItem
	typ, ok := m["type"].(string)
	if !ok {
		return conditionItem{}, false
	}
	item.cond.Type = corev1.PodConditionType(typ)
	for k, v := range m {
		var bit conditionField
		switch k {
		case "type":
			continue
		case "status":
			bit = condStatus
			s, ok := stringOrNull(v)
			if !ok {
				return conditionItem{}, false
			}
			item.cond.Status = corev1.ConditionStatus(s)
		case "reason":
			bit = condReason
			if item.cond.Reason, ok = stringOrNull(v); !ok {
				return conditionItem{}, false
			}
		case "message":
			bit = condMessage
			if item.cond.Message, ok = stringOrNull(v); !ok {
				return conditionItem{}, false
			}
		case "lastProbeTime":
			bit = condLastProbeTime
			if item.cond.LastProbeTime, ok = timeOrNull(v); !ok {
				return conditionItem{}, false
			}
		case "lastTransitionTime":
			bit = condLastTransitionTime
			if item.cond.LastTransitionTime, ok = timeOrNull(v); !ok {
				return conditionItem{}, false
			}
		case "observedGeneration":
			bit = condObservedGeneration
			// Integers decode as int64; a float or an out of range
			// number is the general path's to judge.
			switch n := v.(type) {
			case nil:
			case int64:
				item.cond.ObservedGeneration = n
			default:
				return conditionItem{}, false
			}
		default:
			// Directives ($patch, $retainKeys, ...) and unknown fields,
			// which field validation reports.
			return conditionItem{}, false
		}
		item.fields |= bit
	}
	return item, true
}

func stringOrNull(v any) (string, bool) {
	if v == nil {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

// timeOrNull decodes a time as the general path does, through the type's
// own UnmarshalJSON, so precision and location come out the same.
func timeOrNull(v any) (metav1.Time, bool) {
	var t metav1.Time
	if v == nil {
		return t, true
	}
	s, ok := v.(string)
	if !ok {
		return t, false
	}
	raw, err := json.Marshal(s)
	if err != nil || t.UnmarshalJSON(raw) != nil {
		return metav1.Time{}, false
	}
	return t, true
}

func indexOfItem(items []conditionItem, typ corev1.PodConditionType) int {
	for i := range items {
		if items[i].cond.Type == typ {
			return i
		}
	}
	return -1
}

func indexOfCondition(conds []corev1.PodCondition, typ corev1.PodConditionType) int {
	for i := range conds {
		if conds[i].Type == typ {
			return i
		}
	}
	return -1
}

// mergeInto sets the fields the item names on c.
func (it conditionItem) mergeInto(c *corev1.PodCondition) {
	if it.fields&condStatus != 0 {
		c.Status = it.cond.Status
	}
	if it.fields&condObservedGeneration != 0 {
		c.ObservedGeneration = it.cond.ObservedGeneration
	}
	if it.fields&condLastProbeTime != 0 {
		c.LastProbeTime = it.cond.LastProbeTime
	}
	if it.fields&condLastTransitionTime != 0 {
		c.LastTransitionTime = it.cond.LastTransitionTime
	}
	if it.fields&condReason != 0 {
		c.Reason = it.cond.Reason
	}
	if it.fields&condMessage != 0 {
		c.Message = it.cond.Message
	}
}

// apply returns the conditions after the patch, in the order strategic
// merge gives them (strategicpatch's mergeSlice and mergeSortedSlice): the
// patch's items in patch order, each merged into the current condition of
// its type, interleaved with the current conditions the patch does not
// name, which keep their order and go before a patched condition only
// when they were before it. A new type is not appended: it goes before
// the untouched conditions not placed yet ([Ready] patched with
// [PodScheduled] gives [PodScheduled Ready]). ok is false when current
// has duplicate types, on which the general path's lookups disagree.
func (p conditionPatch) apply(current []corev1.PodCondition) (out []corev1.PodCondition, ok bool) {
	for i := range current {
		if indexOfCondition(current[:i], current[i].Type) >= 0 {
			return nil, false
		}
	}
	type positioned struct {
		cond corev1.PodCondition
		at   int // index in current, -1 for a new type
	}
	patched := make([]positioned, len(p.items))
	for i, it := range p.items {
		at := indexOfCondition(current, it.cond.Type)
		c := corev1.PodCondition{Type: it.cond.Type}
		if at >= 0 {
			c = current[at]
		}
		it.mergeInto(&c)
		patched[i] = positioned{cond: c, at: at}
	}
	var untouched []positioned
	for i, c := range current {
		if indexOfItem(p.items, c.Type) < 0 {
			untouched = append(untouched, positioned{cond: c, at: i})
		}
	}
	out = make([]corev1.PodCondition, 0, len(untouched)+len(patched))
	i, j := 0, 0
	for i < len(untouched) || j < len(patched) {
		if j == len(patched) || i < len(untouched) && patched[j].at >= 0 && untouched[i].at < patched[j].at {
			out = append(out, untouched[i].cond)
			i++
		} else {
			out = append(out, patched[j].cond)
			j++
		}
	}
	return out, true
}

var podType = reflect.TypeFor[*corev1.Pod]()

// conditionFastPath says whether a condition patch of rq may skip the JSON
// round trip: on typedPatchFastPath's terms, and for pods only, the
// one kind whose condition fields parseConditionItem knows.
func (s *server) conditionFastPath(rq *request, mode updateMode, manager string) bool {
	return rq.res.goType == podType && s.typedPatchFastPath(rq, mode, manager)
}

// patchConditions is the fast path's newObjectFunc body: current's copy
// with the patch applied. ok is false when current is not what the
// general path expects to decode or the patch meets a list it does not
// mirror; the caller then takes the general path.
func (s *server) patchConditions(rq *request, current runtime.Object, p conditionPatch) (obj runtime.Object, ok bool, err error) {
	// The general path's encoding sets current's kind; later steps see it.
	if s.setKind(current) != nil {
		return nil, false, nil
	}
	pod, isPod := current.(*corev1.Pod)
	if !isPod || current.GetObjectKind().GroupVersionKind() != rq.res.GroupVersionKind() || reflect.TypeOf(current) != rq.res.goType {
		return nil, false, nil
	}
	conds, ok := p.apply(pod.Status.Conditions)
	if !ok {
		return nil, false, nil
	}
	out := pod.DeepCopy()
	out.Status.Conditions = conds
	// The error is the API status the general path answers, unwrapped.
	if err := checkURLIdentity(rq, out); err != nil {
		return nil, true, err
	}
	return out, true, nil
}
