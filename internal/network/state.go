package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
