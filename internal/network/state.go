package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// choice is the CIDR and bridge a node settled on, kept so that a restart
// finds its pods' network where it left it.
type choice struct {
	CIDR   string `json:"cidr"`
	Bridge string `json:"bridge"`
}

const choiceFile = "network.json"

func loadChoice(dir string) (choice, bool) {
	var c choice
	data, err := os.ReadFile(filepath.Join(dir, choiceFile))
	if err != nil || json.Unmarshal(data, &c) != nil || c.CIDR == "" || c.Bridge == "" {
		return choice{}, false
	}
	return c, true
}

func saveChoice(dir string, c choice) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding pod network choice: %w", err)
	}
	tmp := filepath.Join(dir, choiceFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return fmt.Errorf("recording pod network choice: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, choiceFile)); err != nil {
		return errors.Join(fmt.Errorf("recording pod network choice: %w", err), os.Remove(tmp))
	}
	return nil
}

// peerRoutesFile lists the routes to other nodes' pod CIDRs this node
// made, so that it removes its own only: nodes of other clusters on the
// same host mark theirs with the same route protocol.
const peerRoutesFile = "peer-routes.json"

func loadPeerRoutes(dir string) map[string]bool {
	var list []string
	data, err := os.ReadFile(filepath.Join(dir, peerRoutesFile))
	if err != nil || json.Unmarshal(data, &list) != nil {
		return map[string]bool{}
	}
	set := make(map[string]bool, len(list))
	for _, cidr := range list {
		set[cidr] = true
	}
	return set
}

func savePeerRoutes(dir string, set map[string]bool) error {
	list := make([]string, 0, len(set))
	for cidr := range set {
		list = append(list, cidr)
	}
	sort.Strings(list)
	data, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("encoding peer routes: %w", err)
	}
	tmp := filepath.Join(dir, peerRoutesFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return fmt.Errorf("recording peer routes: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, peerRoutesFile)); err != nil {
		return errors.Join(fmt.Errorf("recording peer routes: %w", err), os.Remove(tmp))
	}
	return nil
}
