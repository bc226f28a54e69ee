// Package applyschema provides the structured-merge-diff schema of the
// built-in API types, the schema server-side apply and managedFields
// tracking work from.
//
// client-go ships that schema as YAML and validates it on first use,
// which costs a quarter of a second of CPU: more than the rest of the
// server's start-up. The same schema is embedded here pre-decoded as
// gob (regenerated and checked against client-go's by this package's
// tests), so it is ready in milliseconds.
package applyschema

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/gob"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// schemaFile is the generated file; see TestEmbeddedSchemaIsCurrent.
const schemaFile = "schema.gob.gz"

//go:embed schema.gob.gz
var embedded []byte

// Parser returns the parser of the built-in types' schema. It is built
// once; a damaged embedded copy is a build defect and panics, as
// client-go's own parser does on a bad schema.
var Parser = sync.OnceValue(func() *typed.Parser {
	types, err := decode(embedded)
	if err != nil {
		panic(fmt.Sprintf("applyschema: embedded schema: %v", err))
	}
	return &typed.Parser{Schema: schema.Schema{Types: types}}
})

// TypeConverter converts the scheme's built-in objects to typed values
// for managedFields tracking and server-side apply.
func TypeConverter(s *runtime.Scheme) managedfields.TypeConverter {
	return managedfields.NewSchemeTypeConverter(s, Parser())
}

func init() {
	// Field defaults are interface values: gob must know their types.
	gob.Register(map[any]any{})
	gob.Register([]any{})
}

// encode renders type definitions in the embedded form: gzipped gob,
// which (unlike JSON) keeps the fields of Atom's embedded List and Map
// apart and the Go types of field defaults as YAML decoding made them.
func encode(types []schema.TypeDef) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if err := gob.NewEncoder(zw).Encode(types); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress schema: %w", err)
	}
	return buf.Bytes(), nil
}

// decode is the inverse of encode.
func decode(data []byte) ([]schema.TypeDef, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decompress schema: %w", err)
	}
	var types []schema.TypeDef
	if err := gob.NewDecoder(zr).Decode(&types); err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	return types, nil
}
