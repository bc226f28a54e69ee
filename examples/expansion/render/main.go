// Command render expands a Go text/template with parameters read from a
// JSON file and prints the result; it stands in for the Jinja2 one-liner
// of the expansion tutorial.
//
//	go run ./examples/expansion/render job.yaml.tmpl params.json | kubectl apply -f -
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: render TEMPLATE PARAMS.json")
	}
	tmpl, err := template.ParseFiles(args[0])
	if err != nil {
		return fmt.Errorf("parsing template: %w", err)
	}
	raw, err := os.ReadFile(args[1])
	if err != nil {
		return fmt.Errorf("reading parameters: %w", err)
	}
	var params []map[string]any
	if err := json.Unmarshal(raw, &params); err != nil {
		return fmt.Errorf("parsing %s: %w", args[1], err)
	}
	if err := tmpl.Execute(os.Stdout, params); err != nil {
		return fmt.Errorf("rendering: %w", err)
	}
	return nil
}
