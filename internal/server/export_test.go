package server

// StopServingNetwork closes the apiserver's listener and every connection
// accepted on it, leaving the in-process transport as the only way in.
func (s *Server) StopServingNetwork() error { return s.httpServer.Close() }

// TrimManagedFields is the informer transform of the controller manager
// and the scheduler.
var TrimManagedFields = trimManagedFields
