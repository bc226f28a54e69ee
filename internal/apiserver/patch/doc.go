// Package patch applies PATCH request bodies to stored objects the way
// kube-apiserver does: JSON patch (RFC 6902), JSON merge patch (RFC 7386),
// strategic merge patch, and server-side apply with managedFields
// bookkeeping. Objects travel as JSON so the caller keeps control of
// decoding, defaulting and validation. Every error is an apierrors status
// error carrying the HTTP code kube-apiserver uses for the same failure.
package patch
