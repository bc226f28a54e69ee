package embedded

import (
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// benignMessages are errors etcd logs in normal operation of a single
// embedded member; they would only alarm users.
var benignMessages = map[string]bool{
	// Logged once on a brand-new data dir before the first term is saved.
	"failed to update storage version": true,
}

// quietCore drops benign etcd errors.
type quietCore struct{ zapcore.Core }

func (c quietCore) With(fields []zapcore.Field) zapcore.Core {
	return quietCore{c.Core.With(fields)}
}

func (c quietCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if benignMessages[e.Message] {
		return ce
	}
	return c.Core.Check(e, ce)
}

// newServerLogger logs etcd's errors to stderr as JSON. The returned level
// is raised while the server shuts down, when etcd reports every closed
// listener as an error.
func newServerLogger() (*zap.Logger, zap.AtomicLevel) {
	level := zap.NewAtomicLevelAt(zap.ErrorLevel)
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	core := zapcore.NewCore(enc, zapcore.Lock(os.Stderr), level)
	return zap.New(quietCore{core}), level
}
